"""Chat turns in worker processes (bot/serving/workers.py): stored like in-process turns, errors kept apart, a dead
worker replaced, and the API's answers for each case."""
import asyncio
import os
import signal
import time

import pytest
from fastapi.testclient import TestClient

from bot.conversation.service import Helpline
from bot.serving.api import create_api
from bot.serving.settings import Settings
from bot.serving.workers import LOST_TURN, NoWorkers, TurnWorkers, WorkerUnavailable
from bot.store.conversations import Store


@pytest.fixture(scope="module")
def settings(tiny_model_dir, tmp_path_factory):
    return Settings(model_dir=tiny_model_dir, db=f"sqlite:///{tmp_path_factory.mktemp('workers') / 'h.db'}")


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()  # the workers' replies are read by the loop they were first used on
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def workers(settings, loop):
    workers = TurnWorkers(settings, 1).start()
    yield workers
    workers.stop()


def wait_until(condition, loop, seconds=60):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        loop.run_until_complete(asyncio.sleep(0.05))


def test_turns_in_a_worker_are_stored_and_continue_the_conversation(workers, settings, loop):
    first = loop.run_until_complete(workers.turn("where is my order", None))
    second = loop.run_until_complete(workers.turn("thanks", first["conversation_id"]))
    assert second["conversation_id"] == first["conversation_id"] and second["message_id"] > first["message_id"]
    stored = Store(settings.db, migrate_schema=False).messages(first["conversation_id"])
    assert [m.text for m in stored if m.role == "customer"] == ["where is my order", "thanks"]
    assert {m.id for m in stored} >= {first["message_id"], second["message_id"]}


def test_a_client_error_in_a_worker_is_a_value_error_and_the_worker_goes_on(workers, loop):
    with pytest.raises(ValueError, match="message is empty"):
        loop.run_until_complete(workers.turn("   ", None))
    assert loop.run_until_complete(workers.turn("hello", None))["reply"]


def test_a_turn_held_by_a_dying_worker_fails_and_the_worker_is_replaced(workers, loop):
    pid = workers.pids[0]
    os.kill(pid, signal.SIGSTOP)  # stopped: the turn is delivered but never answered
    pending = loop.create_task(workers.turn("where is my order", None))
    loop.run_until_complete(asyncio.sleep(0.2))
    assert not pending.done()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(WorkerUnavailable, match="please send it again"):
        loop.run_until_complete(pending)
    with pytest.raises(NoWorkers):  # while it restarts there is none: the API runs such turns itself
        loop.run_until_complete(workers.turn("hello", None))
    wait_until(lambda: workers.alive == 1, loop)
    assert workers.restarts == 1 and workers.pids[0] != pid
    assert loop.run_until_complete(workers.turn("hello again", None))["reply"]


def test_a_worker_reports_what_it_serves_and_picks_up_a_catalogue_edit(settings, loop, tmp_path):
    import shutil
    from dataclasses import replace

    from bot import HelplineModel
    from bot.serving.reloader import CHECK_INTERVAL
    from intents import DEFAULT_CATALOGUE
    from intents.editing import add_intent

    catalogue = tmp_path / "catalogue.yaml"
    shutil.copy(DEFAULT_CATALOGUE, catalogue)
    workers = TurnWorkers(replace(settings, catalogue=str(catalogue)), 1).start()
    try:
        [before] = loop.run_until_complete(workers.status())
        assert before["pid"] == workers.pids[0] != os.getpid()
        assert before["model_version"] == HelplineModel.from_pretrained(settings.model_dir).version
        add_intent(catalogue, "gift_wrapping", [f"can you gift wrap {thing}" for thing in
                                                ("it", "my order", "the shoes", "a present", "two items", "this",
                                                 "the parcel", "my gift", "the box", "everything")])
        loop.run_until_complete(asyncio.sleep(CHECK_INTERVAL + 0.2))  # its watcher looks every CHECK_INTERVAL s
        [after] = loop.run_until_complete(workers.status())
        assert after["intents"] == before["intents"] + 1
    finally:
        workers.stop()


def test_a_worker_that_cannot_load_the_model_stops_the_start_with_its_reason(tmp_path):
    broken = Settings(model_dir=str(tmp_path / "no-model"), db=f"sqlite:///{tmp_path / 'h.db'}")
    with pytest.raises(ValueError, match="a turn worker could not start: .*no-model"):
        TurnWorkers(broken, 1).start()
    with pytest.raises(ValueError, match="count must be at least 1 worker"):
        TurnWorkers(broken, 0)


def test_workers_share_out_the_cores_for_the_model_unless_told(settings):
    from dataclasses import replace

    from bot.model.batch_plan import usable_cores

    assert TurnWorkers(settings, 2).settings["onnx_threads"] == max(1, usable_cores() // 2)
    assert TurnWorkers(replace(settings, onnx_threads=3), 2).settings["onnx_threads"] == 3


def test_a_worker_that_dies_while_starting_is_reported_not_raised_as_a_socket_error(settings):
    import socket
    import subprocess
    import sys
    from multiprocessing.connection import Connection

    ours, theirs = socket.socketpair()
    ours.sendall(b"unread")
    theirs.close()  # closed with bytes unread: our next read is a reset, as when a starting worker is killed
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    with pytest.raises(ValueError, match="a turn worker exited while starting"):
        TurnWorkers(settings, 1)._wait_ready(process, Connection(ours.detach()))


class FakeWorkers:
    """Stands in for TurnWorkers in the API: answers, or fails the way a real pool can."""
    alive, count, restarts = 1, 1, 0

    def __init__(self, error=None):
        self.error, self.calls = error, 0

    async def status(self):
        return [{"pid": 1, "model_version": "v-fake", "intents": 3}][:self.alive]

    async def turn(self, message, conversation_id, channel, **options):
        self.calls += 1
        if self.error:
            raise self.error
        return {"conversation_id": "c" * 12, "message_id": 7, "reply_message_id": 8, "reply": "from a worker",
                "action": "answer", "intent": "order_status", "confidence": 0.9, "emotions": {}, "sentiment":
                "neutral", "frustration": 0.0, "handoff": False, "priority": 10.0, "quick_replies": [],
                "priority_reason": "not for the API"}


@pytest.fixture(scope="module")
def helpline(settings):
    return Helpline.from_settings(settings)


def test_the_api_answers_from_workers_and_maps_their_failures(helpline):
    def api(workers):
        return TestClient(create_api(lambda: helpline, lambda: None, workers))

    healthy = api(FakeWorkers()).get("/api/health").json()
    assert healthy["status"] == "ok" and healthy["model_version"] == helpline.classifier.version
    assert healthy["turn_workers"] == {"configured": 1, "running": 1, "restarts": 0,
                                       "workers": [{"pid": 1, "model_version": "v-fake", "intents": 3}]}
    one_down = FakeWorkers()
    one_down.count, one_down.restarts = 2, 1
    assert api(one_down).get("/api/health").json()["status"] == "degraded"
    assert api(None).get("/api/health").json()["turn_workers"] is None

    answered = api(FakeWorkers()).post("/api/chat", json={"message": "where is my order"})
    assert answered.status_code == 200 and answered.json()["reply"] == "from a worker"
    assert "priority_reason" not in answered.json()  # the documented ChatOut fields only

    lost = api(FakeWorkers(WorkerUnavailable(LOST_TURN)))
    response = lost.post("/api/chat", json={"message": "where is my order"})
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["detail"] == LOST_TURN

    invalid = api(FakeWorkers(ValueError("message is empty: type something first")))
    assert invalid.post("/api/chat", json={"message": "  "}).status_code == 400

    fallback = FakeWorkers(NoWorkers("no turn worker is running"))  # never sent: this process runs the turn
    response = api(fallback).post("/api/chat", json={"message": "where is my order"})
    assert response.status_code == 200 and fallback.calls == 1 and response.json()["reply"] != "from a worker"
    stored = helpline.store.messages(response.json()["conversation_id"])
    assert stored[0].text == "where is my order"


def test_the_api_with_a_real_worker_serves_and_stores_chat_turns(settings, helpline):
    workers = TurnWorkers(settings, 1).start()
    try:
        with TestClient(create_api(lambda: helpline, lambda: None, workers)) as client:  # one event loop
            first = client.post("/api/chat", json={"message": "where is my order"})
            assert first.status_code == 200, first.text
            body = first.json()
            second = client.post("/api/chat", json={"message": "thanks", "conversation_id": body["conversation_id"]})
            assert second.status_code == 200 and second.json()["conversation_id"] == body["conversation_id"]
            assert client.post("/api/chat", json={"message": "   "}).status_code == 400
        worker_pid = workers.pids[0]
    finally:
        workers.stop()
    assert worker_pid != os.getpid()
    stored = helpline.store.messages(body["conversation_id"])  # written by the worker, read by this process
    assert [m.text for m in stored if m.role == "customer"] == ["where is my order", "thanks"]


def test_a_busy_database_in_a_worker_is_a_503_and_an_unknown_id_a_404(workers, settings, loop):
    import sqlite3

    from bot.store.conversations import UnknownConversation
    from bot.store.database import StoreUnavailable

    with pytest.raises(UnknownConversation, match="leave conversation_id out"):
        loop.run_until_complete(workers.turn("hello", "aaaaaaaa"))
    path = settings.db.removeprefix("sqlite:///")
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held by another process
    started = time.time()
    try:
        with pytest.raises(StoreUnavailable, match="send it again"):
            loop.run_until_complete(workers.turn("where is my order", None))
    finally:
        holder.rollback()
        holder.close()
    assert time.time() - started < 10
    assert loop.run_until_complete(workers.turn("where is my order", None))["message_id"] > 0
