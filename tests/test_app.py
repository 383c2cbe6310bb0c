"""The Gradio app, driven through gradio_client as a user's script would (the whole app: UI mounted on the API)."""
from types import SimpleNamespace

import pytest

import app


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
    app.helpline().store.agent_reply(conversation, "Hi, this is Ana from support.")
    new_history = customer.predict(history, api_name="/poll_chat")
    assert "Hi, this is Ana from support." in text_of(new_history[-1])


def test_console_requires_login_and_shows_the_queue(client):
    with pytest.raises(Exception, match="Wrong name or password"):
        client.predict("ana", "nope", api_name="/login")
    from gradio_client import Client

    with pytest.raises(Exception, match="Log in first"):     # a session that has not logged in
        Client(client.src, verbose=False).predict("whatever", api_name="/open_conversation")
    status, queue, *_ = client.predict("ana", "correct horse battery", api_name="/login")
    assert "Logged in as **ana**" in status
    conversation = app.helpline().store.recent_conversations(1)[0].id
    app.helpline().store.take_over(conversation)
    queue = client.predict(api_name="/refresh_queue")
    assert conversation in [row[1] for row in queue["data"]]


def test_model_page_shows_the_serving_version(client):
    info, *_ = client.predict(api_name="/model")
    assert app.helpline().classifier.version in info
    assert "make a registry" in info    # a plain model directory: the page says how to get versions


def test_first_start_builds_a_model_only_when_missing(tiny_model_dir, tmp_path, monkeypatch):
    from bot import bootstrap
    from bot.settings import Settings

    calls = []

    def fake_run(cmd, env):
        calls.append(cmd)
        return SimpleNamespace(returncode=1)

    monkeypatch.setattr(bootstrap.subprocess, "run", fake_run)
    bootstrap.ensure_model(Settings(model_dir=tiny_model_dir))
    assert calls == []
    with pytest.raises(SystemExit, match="no GoEmotions data to build one: set HELPLINE_DATA"):
        bootstrap.ensure_model(Settings(model_dir=str(tmp_path / "new"), data_dir=str(tmp_path)))
    (tmp_path / "goemotions" / "original").mkdir(parents=True)
    with pytest.raises(SystemExit, match="Building the default model failed"):
        bootstrap.ensure_model(Settings(model_dir=str(tmp_path / "new"), data_dir=str(tmp_path)))
    assert calls[0][1:4] == ["-m", "finetune", "train"] and calls[0][-1] == str(tmp_path / "new")


def test_first_start_command_is_a_valid_train_command(tiny_data):
    from bot.bootstrap import train_command
    from bot.settings import Settings
    from finetune.train import parse

    cmd = train_command(Settings(model_dir="models/x"))
    assert cmd[1:4] == ["-m", "finetune", "train"]
    args = parse(cmd[4:])
    assert args.output == "models/x" and args.epochs == 3 and args.emotion_examples_per_epoch == 12000
    assert args.intent_data[0].endswith("retail.yaml")



def test_a_malformed_thread_setting_is_named(monkeypatch):
    from bot.settings import Settings

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
    from bot import settings as module

    monkeypatch.delenv("HELPLINE_WORKERS", raising=False)
    monkeypatch.setattr(module, "usable_cores", lambda: 2)
    assert module.Settings.from_env().turn_workers == 2
    monkeypatch.setattr(module, "usable_cores", lambda: 1)  # one core: a second process would only add hand-overs
    assert module.Settings.from_env().turn_workers == 0


def test_first_start_estimate_depends_on_bfloat16(tmp_path):
    from bot.bootstrap import cpu_flags, first_start_estimate

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx2 fma\n")
    assert cpu_flags(str(cpuinfo)) == {"fpu", "sse2", "avx2", "fma"}
    assert cpu_flags(str(tmp_path / "missing")) == set()
    assert "float32" in first_start_estimate({"avx2", "fma"})
    assert first_start_estimate({"avx2", "avx512f", "avx512_bf16"}) == "about 4-6 minutes on 2 CPU cores"
    assert "depending on the CPU" in first_start_estimate(set())
