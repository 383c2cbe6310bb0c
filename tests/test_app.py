"""The Gradio app, driven through gradio_client as a user's script would (the whole app: UI mounted on the API)."""
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

import app
from tests.conftest import agent_client


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served.url, verbose=False)


def text_of(message):
    content = message["content"]  # Gradio 6 returns message content as a list of typed parts
    return content[0]["text"] if isinstance(content, list) else content


def test_chat_answers_with_intent_and_emotion(client):
    # gr.State inputs and outputs are not part of the API: the client's session keeps them
    box, history, details, emotions, quick, banner = client.predict("where is my order?", [], api_name="/chat")
    assert box == ""
    assert history[0]["role"] == "user" and text_of(history[0]) == "where is my order?"
    assert history[1]["role"] == "assistant" and text_of(history[1])
    assert "**Intent:**" in details and "**Sentiment:**" in details
    assert emotions["label"]
    stored = app.helpline().store.recent_conversations(1)[0]
    assert [m.text for m in app.helpline().store.messages(stored.id)][0] == "where is my order?"  # stored


def test_chat_rejects_an_empty_message(client):
    with pytest.raises(Exception, match="message is empty"):
        client.predict("   ", [], api_name="/chat")


def test_agent_reply_reaches_the_customer_chat_live(served):
    from gradio_client import Client

    customer = Client(served.url, verbose=False)   # a session of its own: its own conversation
    _, history, *_ = customer.predict("hello there", [], api_name="/chat")
    conversation = app.helpline().store.recent_conversations(1)[0].id
    app.helpline().desk.reply(conversation, "Hi, this is Ana from support.")
    new_history = customer.predict(history, api_name="/poll_chat")
    assert "Hi, this is Ana from support." in text_of(new_history[-1])


def test_console_requires_login_and_shows_the_queue(served):
    import httpx
    from gradio_client import Client

    wrong = httpx.post(f"{served.url}/login", data={"name": "ana", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong name or password." in wrong.text and "set-cookie" not in wrong.headers
    page = httpx.get(f"{served.url}/agent/")
    assert page.status_code in (302, 303, 307) and page.headers["location"] == "/login"   # no session: the form
    with pytest.raises(Exception):                              # Gradio itself refuses a client without a session
        Client(f"{served.url}/agent/", verbose=False)
    client = agent_client(served.url)
    status, *_ = client.predict(api_name="/open_desk")
    assert "Logged in as **ana**" in status
    conversation = app.helpline().handle("hello, anyone there?").conversation_id  # this test's own
    app.helpline().desk.take_over(conversation)
    queue = client.predict(api_name="/refresh_queue")
    queue = queue.get("value", queue)  # an update of the table: its value, with the queue's size in its label
    assert conversation in [row[1] for row in queue["data"]]


@pytest.fixture(scope="module")
def canary(served):
    from bot.conversation.service import Helpline
    from tests.conftest import StubClassifier

    store = app.helpline().store  # the stub reads it as out of scope, so Insights lists its text
    canary = Helpline(StubClassifier(), app.helpline().catalogue, store).handle("canary text qwzx-7731 blah")
    app.helpline().desk.take_over(canary.conversation_id)
    agent = agent_client(served.url)  # the control: a logged-in agent does see it
    assert "qwzx-7731" in repr(agent.predict(90.0, api_name="/insights"))
    assert "qwzx-7731" in repr(agent.predict(canary.conversation_id, api_name="/open_conversation"))
    return canary


def test_the_agents_app_refuses_every_route_without_a_session(served, canary):
    """Gradio's own routes of the agents' app (config, queue, upload, the call API, files) answer 401 to a
    script with no session, a made-up one or an ended one: nothing runs, nothing is stored."""
    import httpx

    from bot.serving.agent_session import COOKIE
    from tests.conftest import agent_cookie

    ended = agent_cookie(served.url)
    httpx.post(f"{served.url}/logout", headers=ended)
    for headers in ({}, {"Cookie": f"{COOKIE}=made-up-token"}, ended):
        for method, path, kwargs in (
                ("GET", "/agent/config", {}), ("GET", "/agent/gradio_api/info", {}),
                ("POST", "/agent/gradio_api/queue/join", {"json": {"data": [canary.conversation_id], "fn_index": 0,
                                                                    "session_hash": "x1"}}),
                ("POST", "/agent/gradio_api/call/open_conversation", {"json": {"data": [canary.conversation_id]}}),
                ("POST", "/agent/gradio_api/upload", {"files": {"files": ("a.csv", b"conversation_id,role,text")}})):
            answer = httpx.request(method, served.url + path, headers=headers, **kwargs)
            assert answer.status_code in (401, 403), (path, headers, answer.status_code)
            assert "qwzx-7731" not in answer.text


def test_no_named_endpoint_shows_stored_data_without_login(served, canary):
    """Defence in depth: the agents' app mounted without its login (a deployment mistake), every named endpoint
    called as an attacker's script would (a real conversation id and message id as arguments) still returns no
    stored conversation text and no conversation id: each handler checks the session itself. The customers'
    app's endpoints are called too."""
    import gradio as gr
    from fastapi import FastAPI
    from gradio_client import Client

    from tests.server import Server

    table = {"headers": ["conversation", "text", "message id"],
             "data": [[canary.conversation_id, "qwzx-7731", canary.message_id]], "metadata": None}
    customer = {"/chat", "/quick_reply", "/poll_chat", "/rate"}
    with Server(gr.mount_gradio_app(FastAPI(), app.agents_app(), path="/")) as unguarded:
        attacker = Client(unguarded.url, verbose=False)
        endpoints = attacker.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {"/insights", "/model", "/compare", "/job_status", "/refresh_queue",
                "/open_conversation"} <= set(endpoints)
        leaks = attack(attacker, endpoints, canary, table, customer)
    public = Client(served.url, verbose=False)
    endpoints = public.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(endpoints) <= customer          # the customers' app has no agent endpoint at all
    leaks += attack(public, endpoints, canary, table, customer)
    assert leaks == []


def attack(attacker, endpoints: dict, canary, table: dict, customer: set) -> list[str]:
    """The endpoints whose answer holds the canary's text or conversation id."""
    leaks = []
    for name, endpoint in endpoints.items():
        args = []
        for parameter in endpoint["parameters"]:
            kind = parameter["python_type"]["type"]
            args.append("hello" if (name in customer and kind == "str") or kind.startswith("Literal")
                        else [] if kind.startswith("list") else None if kind == "filepath"
                        else table if kind.startswith("dict") else canary.message_id if kind == "int"
                        else 90.0 if kind == "float" else True if kind == "bool" else canary.conversation_id)
        try:
            result = attacker.predict(*args, api_name=name)
        except Exception as exc:  # noqa: BLE001 - refused: what it says must not leak either
            result = str(exc)
        if "qwzx-7731" in repr(result) or canary.conversation_id in repr(result):
            leaks.append(name)
    return leaks


def test_only_an_admin_may_retrain_promote_or_roll_back(served):
    app.helpline().store.add_agent("agent-only", "correct horse battery")
    plain = agent_client(served.url, "agent-only", "correct horse battery")
    for name in ("/retrain", "/rollback"):  # (promote: its version list is empty without a registry)
        with pytest.raises(Exception, match="Only an admin may do this"):
            plain.predict(api_name=name)


def test_model_page_shows_the_serving_version(served):
    info, *_ = agent_client(served.url).predict(api_name="/model")
    assert app.helpline().classifier.version in info
    assert "make a registry" in info    # a plain model directory: the page says how to get versions


def test_first_start_builds_a_model_only_when_missing(tiny_model_dir, tmp_path, monkeypatch):
    from bot.serving import bootstrap, first_start
    from bot.serving.settings import Settings

    calls = []

    def fake_run(cmd, **_kwargs):
        calls.append(cmd)
        return SimpleNamespace(returncode=1)

    monkeypatch.setattr(first_start.subprocess, "run", fake_run)
    ready = []
    assert first_start.FirstStart(Settings(model_dir=tiny_model_dir), lambda: ready.append(1)).start().ready
    assert calls == [] and ready == [1]
    new = Settings(model_dir=str(tmp_path / "new"), data_dir=str(tmp_path))
    with pytest.raises(SystemExit, match="no GoEmotions data to build one: set HELPLINE_DATA"):
        bootstrap.check_can_build(new)
    (tmp_path / "goemotions" / "original").mkdir(parents=True)
    bootstrap.check_can_build(new)
    building = first_start.FirstStart(new, lambda: ready.append(2))
    building.build()  # (what start() runs in its thread)
    assert not building.ready and ready == [1]
    assert building.status()["status"] == "failed" and "building the default model failed" in building.status()["error"]
    command = calls[0]
    assert command[1:4] == ["-m", "finetune", "train"] and command[command.index("--output") + 1] == new.model_dir


def test_first_start_serves_a_starter_then_trains_the_full_model_as_a_registry_job(tiny_model_dir, tmp_path,
                                                                                   monkeypatch):
    from bot.registry.versions import Registry
    from bot.serving import bootstrap, first_start
    from bot.serving.settings import Settings
    from finetune.train import parse

    (tmp_path / "goemotions" / "original").mkdir(parents=True)
    (tmp_path / "goemotions" / "original" / "dev.tsv").write_text("fine\t27\tid0\n")   # an evaluation set
    settings = Settings(model_dir=str(tmp_path / "models" / "default"), data_dir=str(tmp_path))
    calls, jobs_started = [], []

    def fake_run(command, **_kwargs):   # training writes the model where asked; register adds it
        calls.append(command)
        output = command[command.index("--output") + 1] if "--output" in command else None
        if command[3] == "train":
            shutil.copytree(tiny_model_dir, output)
            metadata = json.loads((Path(output) / "helpline.json").read_text())
            metadata["model_version"] = "starter-20261206-100000"
            (Path(output) / "helpline.json").write_text(json.dumps(metadata))
        elif command[3] == "register":
            model = command[command.index("--model") + 1]
            registry = Registry(command[command.index("--registry") + 1])
            shutil.copytree(model, registry.path_of("v1"))
            registry.add("v1", {"emotion_macro_f1": 0.1})
        return SimpleNamespace(returncode=0)

    monkeypatch.setattr(first_start.subprocess, "run", fake_run)
    monkeypatch.setattr(first_start.jobs, "start_job", lambda root, steps, **kw: jobs_started.append(
        steps("job1", Path(root) / "jobs")) or "job1")
    ready = []
    starting = first_start.FirstStart(settings, lambda: ready.append(1))
    assert starting.starter and "about" in starting.status()["progress"]["estimate"]
    starting.build()
    assert starting.ready and ready == [1] and starting.error is None
    starter = parse(calls[0][4:])
    assert starter.max_steps == 240 and not starter.upset_head and starter.output.endswith("candidates/starter")
    assert calls[1][3] == "register" and "--emotion-test" in calls[1] and "--promote" not in calls[1]
    assert not Path(starter.output).exists() and bootstrap.serves_starter(settings)   # the registry's copy serves
    (train_name, train), (register_name, register) = jobs_started[0]
    full = parse(train[4:])
    assert full.epochs == 3 and full.upset_head and full.max_steps <= 0 and "--progress-file" in train
    assert register[3] == "register" and "--promote" in register                     # through the gate
    # a restart while the full model trained starts it again; a registry with more versions does not
    first_start.FirstStart(settings, lambda: None).start()
    assert len(jobs_started) == 2


def test_first_start_command_is_a_valid_train_command(tiny_data):
    from bot.serving.bootstrap import train_command
    from bot.serving.settings import Settings
    from finetune.train import parse

    cmd = train_command(Settings(model_dir="models/x"))
    assert cmd[1:4] == ["-m", "finetune", "train"]
    args = parse(cmd[4:])
    assert args.output == "models/x" and args.epochs == 3 and args.emotion_examples_per_epoch == 12000
    assert args.intent_data[0].endswith("retail.yaml")



def test_a_malformed_thread_setting_is_named(monkeypatch):
    from bot.serving.settings import Settings

    monkeypatch.setenv("HELPLINE_ONNX_THREADS", "two")
    with pytest.raises(ValueError, match="HELPLINE_ONNX_THREADS must be a whole number"):
        Settings.from_env()
    monkeypatch.setenv("HELPLINE_ONNX_THREADS", "2")
    assert Settings.from_env().onnx_threads == 2
    monkeypatch.setenv("HELPLINE_WORKERS", "-1")
    with pytest.raises(ValueError, match="HELPLINE_WORKERS must be a whole number of worker processes .0 or more"):
        Settings.from_env()
    monkeypatch.setenv("HELPLINE_WORKERS", "0")  # 0: chat turns in the app process
    assert Settings.from_env().turn_workers == 0


def test_chat_turns_go_to_one_worker_process_per_core_by_default(monkeypatch):
    from bot.serving import settings as module

    monkeypatch.delenv("HELPLINE_WORKERS", raising=False)
    monkeypatch.setattr(module, "usable_cores", lambda: 2)
    assert module.Settings.from_env().turn_workers == 2
    monkeypatch.setattr(module, "usable_cores", lambda: 1)  # one core: a second process would only add hand-overs
    assert module.Settings.from_env().turn_workers == 0


def test_first_start_estimate_depends_on_bfloat16(tmp_path):
    from bot.serving.bootstrap import cpu_flags, first_start_estimate

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx2 fma\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "sse2", "avx2", "fma"}
    assert cpu_flags(str(tmp_path / "missing")) == set()
    assert "float32" in first_start_estimate({"avx2", "fma"})
    assert first_start_estimate({"avx2", "avx512f", "avx512_bf16"}) == "about 2 minutes on 2 CPU cores"   # starter
    assert first_start_estimate({"avx2", "avx512f", "avx512_bf16"}, starter=False) == \
        "about 4-6 minutes on 2 CPU cores"
    assert "depending on the CPU" in first_start_estimate(set())


def test_the_port_opens_at_once_with_a_progress_page_while_the_model_builds(tiny_model_dir, tmp_path, monkeypatch):
    import json
    import shutil
    import threading
    import time

    from fastapi.testclient import TestClient
    from starlette.responses import PlainTextResponse

    from bot.serving import first_start as module
    from bot.serving.settings import Settings

    release, ready_calls = threading.Event(), []
    settings = Settings(model_dir=str(tmp_path / "model"), data_dir=str(tmp_path))   # no evaluation set: one build

    def fake_training(command, **_kwargs):  # writes progress like `finetune train --progress-file`, then the model
        progress = command[command.index("--progress-file") + 1]
        for step in (10, 20):
            with open(progress, "w") as handle:
                json.dump({"phase": "training", "step": step, "total": 100}, handle)
            time.sleep(0.05)
        release.wait(10)
        shutil.copytree(tiny_model_dir, settings.model_dir)
        return SimpleNamespace(returncode=0)

    monkeypatch.setattr(module.subprocess, "run", fake_training)
    starting = module.FirstStart(settings, lambda: ready_calls.append(1)).start()
    client = TestClient(module.StartingGate(PlainTextResponse("the full app"), starting))
    deadline = time.time() + 10
    while starting.status()["progress"]["percent"] < 20 and time.time() < deadline:
        time.sleep(0.02)
    page = client.get("/")
    assert page.status_code == 200 and "Helpline is starting" in page.text and 'value="20"' in page.text
    health = client.get("/api/health").json()
    assert health["status"] == "starting" and health["progress"]["percent"] == 20
    assert client.post("/api/chat", json={"message": "hi"}).status_code == 503
    release.set()
    while not starting.ready and time.time() < deadline:
        time.sleep(0.02)
    assert client.get("/").text == "the full app" and ready_calls == [1]  # the same process, no restart


def test_a_retrain_job_left_running_by_a_restart_does_not_block_the_next(tmp_path, monkeypatch):
    import os
    import socket
    import subprocess

    from bot.registry import jobs

    folder = jobs.jobs_dir(tmp_path)
    folder.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    jobs.write_status(folder / "old.json", id="old", state="running", pid=gone.pid, host=socket.gethostname(),
                      heartbeat=0)
    assert jobs.status(tmp_path)["state"] == "failed" and "restarted" in jobs.status(tmp_path)["message"]
    monkeypatch.setattr(jobs.threading, "Thread", lambda **kwargs: SimpleNamespace(start=lambda: None))
    new = jobs.start_retrain(str(tmp_path), "sqlite:///x.db", "catalogue.yaml")
    assert json.loads((folder / "old.json").read_text())["state"] == "failed"
    assert jobs.status(tmp_path, new)["state"] == "running" and jobs.status(tmp_path, new)["pid"] == os.getpid()
    with pytest.raises(ValueError, match="already running"):  # a live job still blocks a second one
        jobs.start_retrain(str(tmp_path), "sqlite:///x.db", "catalogue.yaml")


def test_the_ui_cannot_be_framed(served):
    import httpx

    page = httpx.get(served.url + "/")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "img-src 'self' data: blob:;" in page.headers["content-security-policy"]  # no remote images
    demo = httpx.get(served.url + "/widget-demo")
    assert "connect-src 'self'" in demo.headers["content-security-policy"]
    login = httpx.get(served.url + "/login")
    assert login.headers["x-frame-options"] == "DENY" and login.headers["cache-control"] == "no-store"


def test_a_short_agent_token_on_the_command_line_is_refused_with_a_warning(capsys):
    with pytest.raises(SystemExit, match="HELPLINE_AGENT_TOKEN is 5 characters; use at least 24"):
        app.main(["--agent-token", "short"])
    assert "--agent-token shows in `ps`" in capsys.readouterr().err


def test_the_console_shows_a_handoff_summary_and_suggests_what_agents_replied_before(served, keyword_model):
    service = app.helpline()
    answer = "I have sent your refund again; it shows in 3-5 working days."
    for _ in range(2):   # two earlier conversations where an agent answered the same request the same way
        earlier = service.handle("where is my refund for the broken kettle?").conversation_id
        service.desk.reply(earlier, answer)
    service.suggestions.refresh()
    waiting = service.handle("where is my refund for the broken kettle? order A55120").conversation_id
    service.desk.take_over(waiting)
    # (the suggestion buttons are not API values)
    shown = agent_client(served.url).predict(waiting, api_name="/open_conversation")
    assert "Customer wants: refund status." in shown[3] and "References: A55120." in shown[3]
    assert answer in service.suggestions.for_conversation(waiting)   # what the buttons show


def test_the_console_and_the_api_check_an_agent_action_alike(served):
    """Both go through the agent desk (bot/conversation/desk.py): an unknown intent and an empty reply are refused
    by the console as by the REST API."""
    import httpx

    from tests.conftest import AUTOMATION_TOKEN

    turn = app.helpline().handle("where is my order, I want a human")
    client = agent_client(served.url)
    with pytest.raises(Exception, match="no_such_intent"):   # (Gradio's dropdown refuses it before the desk does)
        client.predict(turn.message_id, "no_such_intent", api_name="/correct_label")
    with pytest.raises(ValueError, match="unknown intent 'no_such_intent'; use one the model or the catalogue"):
        app.helpline().desk.correct_label(turn.message_id, "no_such_intent")
    answer = httpx.post(f"{served.url}/api/messages/{turn.message_id}/label", json={"intent": "no_such_intent"},
                        headers={"Authorization": f"Bearer {AUTOMATION_TOKEN}"})
    assert answer.status_code == 400 and "unknown intent 'no_such_intent'" in answer.json()["detail"]
    with pytest.raises(Exception, match="Write a reply first"):
        client.predict(turn.conversation_id, "   ", api_name="/agent_reply")
    assert [m.role for m in app.helpline().store.messages(turn.conversation_id)].count("agent") == 0
