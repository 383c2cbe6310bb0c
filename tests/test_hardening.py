"""Hardening of the REST API, on the stub classifier (instant): server-made conversation ids, idempotent
resends, CORS for the widget only, bounded integers, a busy database as a 503, abuse limits, the body cap,
security headers, the paged queue with floods flagged, and retention."""
import datetime as dt
import sqlite3
import threading
import time

import pytest
from fastapi.testclient import TestClient

from bot.conversation.service import Helpline
from bot.serving.api import create_api
from bot.serving.http_guards import guarded
from bot.serving.ratelimit import RateLimits, parse_spec
from bot.store.conversations import Store, UnknownConversation
from bot.store.retention import purge
from intents import load_catalogue
from tests.conftest import StubClassifier

TOKEN = "automation-token-for-hardening-tests"
SHOP = "http://shop.example"


def make_client(tmp_path, limits="off", origins=(SHOP,), name="h.db"):
    helpline = Helpline(StubClassifier(), load_catalogue(), Store(f"sqlite:///{tmp_path / name}"))
    api = create_api(lambda: helpline, lambda: TOKEN, limits=RateLimits(limits))
    return TestClient(guarded(api, origins)), helpline


@pytest.fixture
def client(tmp_path):
    client, helpline = make_client(tmp_path)
    client.helpline = helpline
    return client


AUTH = {"Authorization": f"Bearer {TOKEN}"}


# ------------------------------------------------------------------------------------------ conversation ids
def test_a_client_cannot_choose_its_conversation_id(client):
    r = client.post("/api/chat", json={"message": "hello", "conversation_id": "aaaaaaaa"})
    assert r.status_code == 404 and "leave conversation_id out" in r.json()["detail"]
    assert client.helpline.store.conversation("aaaaaaaa") is None
    with pytest.raises(UnknownConversation):
        client.helpline.handle("hello", "bbbbbbbb")
    made = client.post("/api/chat", json={"message": "hello"}).json()["conversation_id"]
    assert len(made) == 32
    assert client.post("/api/chat", json={"message": "where", "conversation_id": made}).status_code == 200


# ------------------------------------------------------------------------------------------ idempotency
def test_a_resend_with_the_same_key_stores_one_turn_and_gets_the_same_reply(client):
    key = {"Idempotency-Key": "8d3c2a8e-5f1e-4f7b-9a43-2f7a6b1c0d11"}
    first = client.post("/api/chat", json={"message": "where is my order"}, headers=key)
    again = client.post("/api/chat", json={"message": "where is my order"}, headers=key)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert len(client.helpline.store.messages(first.json()["conversation_id"])) == 2  # one customer turn + reply
    other = client.post("/api/chat", json={"message": "something else"}, headers=key)
    assert other.status_code == 400 and "different message" in other.json()["detail"]
    bad = client.post("/api/chat", json={"message": "hi"}, headers={"Idempotency-Key": "x"})
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["detail"]


def test_two_first_turns_racing_on_one_key_store_one_conversation(db_url):
    helpline = Helpline(StubClassifier(), load_catalogue(), Store(db_url))
    results, errors = [], []

    def send():
        try:
            results.append(helpline.handle("where is my order", idempotency_key="race-key-0001").to_dict())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and len(results) == 4
    assert len({r["conversation_id"] for r in results}) == 1
    assert len(helpline.store.recent_conversations(10)) == 1


# ------------------------------------------------------------------------------------------ CORS
def test_the_widget_endpoints_answer_allowed_origins_only(client):
    preflight = client.options("/api/chat", headers={"Origin": SHOP, "Access-Control-Request-Method": "POST",
                                                     "Access-Control-Request-Headers": "content-type,idempotency-key"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == SHOP
    assert "access-control-allow-credentials" not in preflight.headers
    posted = client.post("/api/chat", json={"message": "hello"}, headers={"Origin": SHOP})
    assert posted.headers["access-control-allow-origin"] == SHOP
    stranger = client.post("/api/chat", json={"message": "hello"}, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in stranger.headers
    agents = client.get("/api/conversations", headers={"Origin": SHOP, **AUTH})
    assert "access-control-allow-origin" not in agents.headers  # the agent API stays same-origin


# ------------------------------------------------------------------------------------------ no 5xx
@pytest.mark.parametrize("method, path", [
    ("GET", "/api/chat/abcdefgh12/messages?after=99999999999999999999"),
    ("POST", "/api/messages/99999999999999999999/label"),
    ("GET", "/api/conversations?offset=99999999999999999999"),
])
def test_integers_beyond_the_database_are_a_422(client, method, path):
    r = client.request(method, path, json={"intent": "greeting"}, headers=AUTH)
    assert r.status_code == 422, r.text


def test_a_held_database_lock_is_a_quick_503_with_retry_after(tmp_path):
    client, helpline = make_client(tmp_path)
    helpline.store.busy_seconds = 1.0
    holder = sqlite3.connect(tmp_path / "h.db")
    holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        started = time.time()
        r = client.post("/api/chat", json={"message": "hello"})
        assert r.status_code == 503 and r.headers["retry-after"] and "send it again" in r.json()["detail"]
        assert time.time() - started < 10
    finally:
        holder.rollback()
        holder.close()
    assert client.post("/api/chat", json={"message": "hello"}).status_code == 200


def test_a_huge_body_is_refused_before_it_is_read(client):
    r = client.post("/api/chat", content=b"{" + b" " * (20 * 1024 * 1024) + b"}",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "KiB" in r.json()["detail"]


def test_security_headers(client):
    api = client.get("/api/health")
    assert api.headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in \
        api.headers["content-security-policy"]
    assert client.get("/widget.js").headers["cross-origin-resource-policy"] == "cross-origin"


# ------------------------------------------------------------------------------------------ abuse limits
def test_chat_is_limited_per_address_and_per_conversation(tmp_path):
    client, _ = make_client(tmp_path, limits="chat_address=5/minute;chat_conversation=2/minute")
    first = client.post("/api/chat", json={"message": "hello"}).json()["conversation_id"]
    for _ in range(2):
        assert client.post("/api/chat", json={"message": "where", "conversation_id": first}).status_code == 200
    third = client.post("/api/chat", json={"message": "where", "conversation_id": first})
    assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
    assert "faster than we can read" in third.json()["detail"]
    assert client.post("/api/chat", json={"message": "hello"}).status_code == 200
    assert client.post("/api/chat", json={"message": "hello"}).status_code == 429  # the address's 5 are used


def test_failed_logins_lock_the_account_and_are_logged_without_the_password(tmp_path, caplog):
    client, helpline = make_client(tmp_path, limits="login_account=3/15 minutes")
    helpline.store.add_agent("ana", "correct horse battery")
    for _ in range(3):
        assert client.post("/api/login", json={"name": "ana", "password": "guess-123456"}).status_code == 401
    locked = client.post("/api/login", json={"name": "ana", "password": "correct horse battery"})
    assert locked.status_code == 429 and "locked" in locked.json()["detail"]
    assert "guess-123456" not in caplog.text and "failed login for agent 'ana'" in caplog.text


def test_limits_are_shared_through_redis(tmp_path):
    import os

    import redis

    url = os.environ.get("HELPLINE_TEST_REDIS", "redis://127.0.0.1:6379")
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as exc:
        if os.environ.get("HELPLINE_REQUIRE_REDIS"):
            raise
        pytest.skip(f"no Redis at {url}: {exc}")
    address = f"10.0.0.{time.time_ns() % 250}-{time.time_ns()}"
    one, two = (RateLimits("chat_address=3/minute", url) for _ in range(2))  # two app processes
    one.chat(address, None)
    two.chat(address, None)
    one.chat(address, None)
    with pytest.raises(Exception, match="faster than we can read"):
        two.chat(address, None)


def test_rate_limit_settings_are_checked():
    assert parse_spec("off") is None and parse_spec("on")["chat_address"] == "60/minute"
    assert parse_spec("chat_address=10/second")["chat_address"] == "10/second"
    with pytest.raises(ValueError, match="HELPLINE_RATE_LIMITS: 'chat=1/minute' is not NAME=N/period"):
        parse_spec("chat=1/minute")
    with pytest.raises(ValueError, match="'lots' is not a rate"):
        parse_spec("chat_address=lots")


# ------------------------------------------------------------------------------------------ queue and floods
def test_the_queue_is_paged_and_a_flood_from_one_address_is_flagged_last(client):
    store = client.helpline.store
    flood = [client.helpline.handle("I want a human", source="flooder").conversation_id for _ in range(5)]
    real = client.helpline.handle("I want a human", source="customer").conversation_id
    queue = client.get("/api/conversations?limit=3", headers=AUTH).json()
    assert len(queue) == 3 and queue[0]["id"] == real
    rest = client.get("/api/conversations?limit=50&offset=3", headers=AUTH).json()
    assert len(rest) == 3 and all(c["id"] in flood for c in rest)
    assert all(c["priority_reason"].startswith("flagged: repeated handoffs") for c in queue[1:] + rest)
    assert client.get("/api/conversations?limit=500", headers=AUTH).status_code == 422
    assert len(store.open_conversations(limit=2)) == 2


# ------------------------------------------------------------------------------------------ retention
def test_retention_deletes_old_closed_conversations_and_expired_sessions(client):
    store = client.helpline.store
    old = client.helpline.handle("where is my order").conversation_id
    kept_open = client.helpline.handle("I want a human", idempotency_key="old-key-0001").conversation_id
    store.add_agent("bo", "correct horse battery")
    store.login("bo", "correct horse battery", hours=-1)  # already expired
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    done = purge(store, days=365, now=later)
    assert done.conversations == 1 and done.sessions == 1 and done.receipts == 1
    assert store.conversation(old) is None and store.conversation(kept_open) is not None
    assert purge(store, days=0, now=later + dt.timedelta(days=4000)).conversations == 0  # 0 keeps everything


def test_the_handoff_path_over_http(client):
    """The policy hands off, the conversation waits in the queue, an agent's reply reaches the customer."""
    turn = client.post("/api/chat", json={"message": "I want a human, please"}).json()
    assert turn["handoff"] and turn["action"] == "handoff"
    queue = client.get("/api/conversations", headers=AUTH).json()
    assert [(c["id"], c["status"]) for c in queue] == [(turn["conversation_id"], "waiting")]
    assert queue[0]["handoff_reason"] == "asked for a person"
    client.post(f"/api/conversations/{turn['conversation_id']}/reply", json={"text": "Hi, Ana here."}, headers=AUTH)
    seen = client.get(f"/api/chat/{turn['conversation_id']}/messages?after={turn['message_id']}").json()
    assert seen["status"] == "agent"
    assert [m["text"] for m in seen["messages"] if m["role"] == "agent"] == ["Hi, Ana here."]
