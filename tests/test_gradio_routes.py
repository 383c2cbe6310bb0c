"""Hardening, second round: Gradio's own routes (uploads, body caps, file URLs), the login lockout per address,
proxies, and the side doors (CSAT comments, idempotency keys, address hashes, idle sessions)."""
import datetime as dt
import hashlib

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.conversation.service import Helpline
from bot.serving.agent_session import COOKIE
from bot.serving.api import create_api
from bot.serving.gradio_guards import GradioGuards, has_file_url
from bot.serving.http_guards import guarded
from bot.serving.ratelimit import RateLimits
from bot.serving.settings import check_proxy
from bot.store.conversations import Store
from intents import load_catalogue
from tests.conftest import AGENT, StubClassifier, agent_cookie

SESSION = {"Cookie": f"{COOKIE}=a-live-session"}
FILE_AT = {"meta": {"_type": "gradio.FileData"}, "orig_name": "export.csv"}


async def echo(request):
    body = await request.body()
    return JSONResponse({"path": request.url.path, "bytes": len(body)})


def guarded_gradio(tmp_path, limits="upload_address=2/hour", cache_bytes=10_000) -> TestClient:
    """A stand-in for Gradio (echoes what reached it) behind the same guards as the app."""
    inner = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST"])])
    (tmp_path / "cache").mkdir(exist_ok=True)
    app = guarded(inner, (), lambda a: GradioGuards(a, lambda scope: b"a-live-session" in dict(scope["headers"])
                                                    .get(b"cookie", b""), RateLimits(limits), str(tmp_path / "cache"),
                                                    cache_bytes))
    return TestClient(app)


# ------------------------------------------------------------------------------------------ uploads
def test_uploads_need_an_agent_session_are_limited_and_stop_when_the_cache_is_full(tmp_path):
    client = guarded_gradio(tmp_path)
    csv = {"files": ("a.csv", b"conversation_id,role,text\n")}
    public = client.post("/gradio_api/upload", files=csv)
    assert public.status_code == 403 and "agents" in public.json()["detail"]   # the customers' app takes none
    flood = [client.post("/agent/gradio_api/upload", files=csv).status_code for _ in range(5)]
    assert flood == [401] * 5                                                   # no login, nothing stored
    assert [client.post("/agent/gradio_api/upload", files=csv, headers=SESSION).status_code
            for _ in range(3)] == [200, 200, 429]                               # an agent, within the limit
    full = guarded_gradio(tmp_path, limits="off")
    (tmp_path / "cache" / "earlier-upload.bin").write_bytes(b"x" * 20_000)
    refused = full.post("/agent/gradio_api/upload", files=csv, headers=SESSION)
    assert refused.status_code == 507 and "upload space is full" in refused.json()["detail"]


def test_the_served_app_refuses_uploads_without_a_session(served):
    csv = {"files": ("a.csv", b"conversation_id,role,text\n")}
    assert httpx.post(f"{served.url}/gradio_api/upload", files=csv).status_code == 403
    assert httpx.post(f"{served.url}/agent/gradio_api/upload", files=csv).status_code == 401
    with_session = httpx.post(f"{served.url}/agent/gradio_api/upload", files=csv, headers=agent_cookie(served.url))
    assert with_session.status_code == 200 and with_session.json()[0].endswith("a.csv")
    big = httpx.post(f"{served.url}/agent/gradio_api/upload", headers=agent_cookie(served.url),
                     files={"files": ("big.csv", b"x" * (6 * 1024 * 1024))})
    assert big.status_code == 413                                                 # Gradio's 5 MB per file


# ------------------------------------------------------------------------------------------ bodies and URLs
def test_a_megabyte_queue_body_is_refused_before_it_is_read(tmp_path, served):
    body = b'{"data": ["' + b"x" * (1024 * 1024) + b'"], "fn_index": 0, "session_hash": "abc"}'
    for client, url in ((guarded_gradio(tmp_path), ""), (httpx, served.url)):
        for path in ("/gradio_api/queue/join", "/gradio_api/call/chat", "/agent/gradio_api/queue/join"):
            answer = client.post(url + path, content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 413 and "KiB" in answer.json()["detail"], path
    small = guarded_gradio(tmp_path).post("/gradio_api/queue/join", json={"data": ["hello"]})
    assert small.status_code == 200 and small.json()["bytes"] > 0                 # passed on whole


def test_a_file_given_as_a_link_is_refused_before_gradio_downloads_it(tmp_path, served):
    linked = {"data": [{"path": "https://evil.example/huge.csv", **FILE_AT}], "fn_index": 0, "session_hash": "abc"}
    client = guarded_gradio(tmp_path)
    for path in ("/agent/gradio_api/queue/join", "/gradio_api/call/analyze_export", "/gradio_api/run/predict"):
        answer = client.post(path, json=linked, headers=SESSION)
        assert answer.status_code == 400 and "uploaded, not given as a link" in answer.json()["detail"], path
    local = {"data": [{"path": "/tmp/gradio/abc/export.csv", **FILE_AT}], "fn_index": 0}
    assert client.post("/agent/gradio_api/queue/join", json=local, headers=SESSION).status_code == 200
    in_history = {"data": [[{"role": "user", "content": [{"path": "//evil.example/x.png"}]}]]}
    assert has_file_url(in_history) and not has_file_url({"data": ["see https://example.com"]})  # text is text
    shown_from_here = {"data": [{"path": "/tmp/gradio/abc/export.csv", "url": "http://127.0.0.1/agent/file=x"}]}
    assert not has_file_url(shown_from_here)   # the page's own upload, as the browser sends it
    served_answer = httpx.post(f"{served.url}/agent/gradio_api/queue/join", json=linked,
                               headers=agent_cookie(served.url))
    assert served_answer.status_code == 400


# ------------------------------------------------------------------------------------------ lockout
def login_client(tmp_path, limits: str):
    helpline = Helpline(StubClassifier(), load_catalogue(), Store(f"sqlite:///{tmp_path / 'l.db'}"))
    helpline.store.add_agent(*AGENT)
    api = create_api(lambda: helpline, lambda: None, limits=RateLimits(limits))

    def from_address(address: str) -> TestClient:
        return TestClient(guarded(api), client=(address, 40000))
    return from_address


def login(client: TestClient, password: str) -> int:
    return client.post("/api/login", json={"name": AGENT[0], "password": password}).status_code


def test_failed_logins_from_one_address_do_not_lock_the_agent_out_elsewhere(tmp_path):
    from_address = login_client(tmp_path, "login_account_address=3/15 minutes;login_account=100/hour")
    attacker, agent = from_address("203.0.113.9"), from_address("198.51.100.7")
    assert [login(attacker, "guess-123456") for _ in range(4)] == [401, 401, 401, 429]
    assert login(attacker, AGENT[1]) == 429                       # locked for this name from this address ...
    assert login(agent, AGENT[1]) == 200                          # ... not for the agent elsewhere


def test_a_name_under_attack_from_many_addresses_still_opens_from_a_known_address(tmp_path):
    from_address = login_client(tmp_path, "login_account_address=3/15 minutes;login_account=5/hour")
    office = from_address("198.51.100.7")
    assert login(office, AGENT[1]) == 200                         # the agent's usual address, now known
    for n in range(5):                                            # a botnet: one guess from each address
        assert login(from_address(f"203.0.113.{n}"), "guess-123456") == 401
    locked = from_address("192.0.2.50").post("/api/login", json={"name": AGENT[0], "password": AGENT[1]})
    assert locked.status_code == 429 and "addresses it has not logged in from" in locked.json()["detail"]
    assert login(office, AGENT[1]) == 200                         # the right password from a known address


# ------------------------------------------------------------------------------------------ proxies
def proxied(tmp_path, trusted: list[str], client_address: str) -> TestClient:
    helpline = Helpline(StubClassifier(), load_catalogue(), Store(f"sqlite:///{tmp_path / 'p.db'}"))
    api = create_api(lambda: helpline, lambda: None, limits=RateLimits("chat_address=3/minute"))
    return TestClient(ProxyHeadersMiddleware(guarded(api), trusted_hosts=trusted), client=(client_address, 40000))


def chat_statuses(client: TestClient, forwarded: list[str]) -> list[int]:
    return [client.post("/api/chat", json={"message": "hello"}, headers={"X-Forwarded-For": f}).status_code
            for f in forwarded]


def test_a_rotated_forwarded_for_does_not_escape_the_limits(tmp_path):
    # the proxy (10.0.0.2) appends the address it saw (198.51.100.7) to whatever the client claimed
    behind_proxy = proxied(tmp_path, ["10.0.0.0/8"], "10.0.0.2")
    rotated = [f"1.2.3.{n}, 198.51.100.7" for n in range(4)]
    assert chat_statuses(behind_proxy, rotated) == [200, 200, 200, 429]
    assert chat_statuses(behind_proxy, ["198.51.100.8"]) == [200]          # another customer behind the proxy
    direct = proxied(tmp_path, ["10.0.0.0/8"], "203.0.113.5")              # not the proxy: its header is ignored
    assert chat_statuses(direct, [f"1.2.3.{n}" for n in range(4)]) == [200, 200, 200, 429]
    untrusted = proxied(tmp_path, [], "10.0.0.2")                          # no proxy set: the header is ignored
    assert chat_statuses(untrusted, [f"1.2.3.{n}" for n in range(4)]) == [200, 200, 200, 429]


def test_the_proxy_setting_takes_addresses_and_networks_never_a_wildcard():
    import app

    assert check_proxy("10.0.0.0/8") == "10.0.0.0/8" and check_proxy("::1") == "::1"
    with pytest.raises(ValueError, match=r"'\*' would let any client choose the address every limit counts"):
        check_proxy("*")
    with pytest.raises(SystemExit, match="is not an address or a network"):
        app.main(["--forwarded-allow-ips", "*"])


# ------------------------------------------------------------------------------------------ side doors
def test_a_csat_comment_is_redacted_before_it_is_stored(tmp_path):
    helpline = Helpline(StubClassifier(), load_catalogue(), Store(f"sqlite:///{tmp_path / 'c.db'}"))
    client = TestClient(guarded(create_api(lambda: helpline, lambda: None)))
    conversation = client.post("/api/chat", json={"message": "bye"}).json()["conversation_id"]
    comment = "call me on +44 7700 900123 or mail jo@example.com, card 4111 1111 1111 1111"
    assert client.post(f"/api/chat/{conversation}/csat", json={"rating": 2, "comment": comment}).status_code == 200
    assert helpline.store.conversation(conversation).csat_comment == "call me on [PHONE] or mail [EMAIL], card [CARD]"


def test_idempotency_keys_belong_to_their_sender(tmp_path):
    helpline = Helpline(StubClassifier(), load_catalogue(), Store(f"sqlite:///{tmp_path / 'i.db'}"))
    mine = helpline.handle("where is my order", idempotency_key="shared-key-0001", source="alice")
    again = helpline.handle("where is my order", idempotency_key="shared-key-0001", source="alice")
    theirs = helpline.handle("where is my order", idempotency_key="shared-key-0001", source="mallory")
    assert again.conversation_id == mine.conversation_id          # a resend gets the first reply
    assert theirs.conversation_id != mine.conversation_id         # the same key from another sender: its own turn


def test_address_hashes_are_keyed_and_shared_by_every_process_on_the_database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.db'}"
    one, two = Store(url), Store(url)                              # two app processes on one database
    assert one.source_of("198.51.100.7") == two.source_of("198.51.100.7")
    assert one.source_of("198.51.100.7") != hashlib.sha256(b"198.51.100.7").hexdigest()[:len(one.source_of("x"))]
    assert Store(url, secret="from-HELPLINE_SECRET").source_of("198.51.100.7") != one.source_of("198.51.100.7")
    assert one.source_of(None) is None


def test_the_public_reads_are_limited(tmp_path):
    helpline = Helpline(StubClassifier(), load_catalogue(), Store(f"sqlite:///{tmp_path / 'r.db'}"))
    client = TestClient(guarded(create_api(lambda: helpline, lambda: None, limits=RateLimits("read_address=3/minute"))))
    conversation = client.post("/api/chat", json={"message": "hello"}).json()["conversation_id"]
    reads = [client.get(f"/api/chat/{conversation}/messages").status_code for _ in range(2)]
    reads += [client.get("/api/health").status_code for _ in range(2)]
    assert reads == [200, 200, 200, 429]


def test_timers_do_not_keep_an_idle_session_alive(tmp_path):
    from sqlalchemy import update

    from bot.store.accounts import token_hash
    from bot.store.schema import AgentSession

    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    store.add_agent(*AGENT)
    _, token = store.login(*AGENT)
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    with store.transaction() as session:
        session.execute(update(AgentSession).where(AgentSession.token_hash == token_hash(token))
                        .values(last_seen=earlier))

    def last_seen():
        with store.sessions() as session:
            seen = session.get(AgentSession, token_hash(token)).last_seen
        return seen if seen.tzinfo else seen.replace(tzinfo=dt.UTC)

    assert store.agent_for_token(token, touch=False) is not None and last_seen() == earlier   # a timer's poll
    assert store.agent_for_token(token) is not None and last_seen() > earlier                 # the agent's action


def test_the_customer_chat_shows_agent_text_as_text():
    import gradio as gr

    import app

    chatbots = [b for b in app.demo.blocks.values() if isinstance(b, gr.Chatbot)]
    assert chatbots and all(not c.render_markdown and c.sanitize_html for c in chatbots)


def test_the_analyze_tab_redacts_and_keeps_nothing_behind(served, tmp_path, monkeypatch):
    import json
    import time
    from pathlib import Path

    from gradio_client import handle_file

    import ui.analyze
    from tests.conftest import agent_client

    monkeypatch.setattr(ui.analyze, "KEEP_SECONDS", 0.5)
    export = tmp_path / "export.jsonl"
    export.write_text(json.dumps({"id": "c1", "messages": [
        {"role": "customer", "text": "my card 4111 1111 1111 1111 was charged twice, mail jo@example.com"}]}) + "\n")
    _page, files = agent_client(served.url).predict(handle_file(str(export)), api_name="/analyze_export")
    rows = Path(next(f for f in files["value"] if f.endswith("messages.jsonl"))).read_text()   # the download
    assert "[CARD]" in rows and "[EMAIL]" in rows and "4111" not in rows and "jo@example.com" not in rows
    folders = list(Path(ui.analyze.tempfile.gettempdir()).glob(ui.analyze.PREFIX + "*"))
    deadline = time.time() + 10
    while any(f.exists() for f in folders) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(f.exists() for f in folders)             # messages.jsonl, report.html, conversations.csv gone


def test_an_upload_too_big_for_the_app_is_refused_before_the_model_reads_it(tmp_path):
    import json

    from bot.batch.analyze import analyze
    from bot.batch.transcripts import TranscriptError

    export = tmp_path / "export.jsonl"
    export.write_text("".join(json.dumps({"id": f"c{i}", "messages": [{"role": "customer", "text": "hi"}]}) + "\n"
                              for i in range(3)))
    with pytest.raises(TranscriptError, match="3 customer messages; the app reads at most 2 at a time"):
        analyze(None, [str(export)], tmp_path / "out.jsonl", max_messages=2, progress=False)
    assert not (tmp_path / "out.jsonl").exists()
