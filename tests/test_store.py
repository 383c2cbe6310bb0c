"""The conversation store on SQLite and PostgreSQL: turns, agents, corrections, and nothing acknowledged lost."""
import datetime as dt
import os
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import inspect

from bot.conversation.service import Helpline
from bot.store.conversations import Store
from intents import load_catalogue
from tests.conftest import ROOT, StubClassifier


@pytest.fixture
def store(db_url):
    store = Store(db_url)
    yield store
    store.engine.dispose()


@pytest.fixture
def helpline(store):
    return Helpline(StubClassifier(), load_catalogue(), store)


def test_migrations_create_every_table_and_are_idempotent(store, db_url):
    tables = set(inspect(store.engine).get_table_names())
    assert {"conversations", "messages", "handoffs", "agents", "label_corrections", "feedback",
            "alembic_version"} <= tables
    Store(db_url).engine.dispose()   # a second process starting on the same database migrates nothing


def test_a_turn_stores_both_messages_with_the_prediction(helpline, store):
    turn = helpline.handle("where is my parcel? mail me at jo@example.com")
    conversation = store.conversation(turn.conversation_id)
    customer, bot = conversation.messages
    assert (customer.role, bot.role) == ("customer", "bot")
    assert customer.text == "where is my parcel? mail me at [EMAIL]"      # stored redacted
    assert customer.intent == "order_status" and customer.model_version == "stub-1"
    assert customer.prediction["alternatives"][0][0] == "order_status"
    assert bot.text == turn.reply and conversation.status == "bot"


def test_state_carries_across_turns_and_processes(helpline, store, db_url):
    first = helpline.handle("blah blah")
    assert first.action == "fallback"
    restarted = Helpline(StubClassifier(), load_catalogue(), Store(db_url))   # another process, same database
    second = restarted.handle("more blah", first.conversation_id)
    assert second.action == "handoff" and "2 messages in a row" in second.handoff_reason
    assert store.conversation(first.conversation_id).status == "waiting"
    third = helpline.handle("hello?", first.conversation_id)                  # with the agents now
    assert third.action == "with_agent"
    restarted.store.engine.dispose()


def test_agents_reply_resolve_and_correct_labels(helpline, store):
    agent = store.add_agent("ana", "correct horse battery")
    assert store.check_agent("ana", "correct horse battery").id == agent.id
    assert store.check_agent("ana", "wrong password") is None
    with pytest.raises(ValueError, match="already exists"):
        store.add_agent("ana", "another password")
    with pytest.raises(ValueError, match="at least 12 characters"):
        store.add_agent("bo", "short")
    turn = helpline.handle("I want a human")
    desk = helpline.desk      # what agents do goes through the desk; the store saves it
    reply = desk.reply(turn.conversation_id, "Hi, I'm Ana. How can I help?", agent.id)
    assert [m.id for m in store.messages(turn.conversation_id, after_id=turn.message_id)][-1] == reply.id
    assert store.conversation(turn.conversation_id).status == "agent"
    desk.correct_label(turn.message_id, "complaint", agent.id)
    desk.correct_label(turn.message_id, "cancel_order", agent.id)
    assert store.label_corrections() == [("I want a human", "cancel_order")]   # the latest correction wins
    desk.resolve(turn.conversation_id)
    again = helpline.handle("where is my order", turn.conversation_id)
    assert again.action == "answer"                                         # back with the bot after resolve
    with pytest.raises(KeyError):
        desk.reply("no-such-conversation", "hello")


def test_concurrent_writers_lose_nothing(helpline, store):
    errors = []

    def customer(n):
        try:
            conversation_id = None
            for i in range(10):
                conversation_id = helpline.handle(f"where is order {n}-{i}", conversation_id).conversation_id
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count_messages() == 8 * 10 * 2


def test_same_conversation_from_two_threads_keeps_every_turn(helpline, store):
    conversation_id = helpline.handle("hello").conversation_id
    threads = [threading.Thread(target=lambda: [helpline.handle("where is it", conversation_id) for _ in range(10)])
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conversation = store.conversation(conversation_id)
    assert len(conversation.messages) == 2 + 2 * 10 * 2
    assert conversation.state["turns"] == 21     # no turn's state update was overwritten


KILLED_WRITER = """
from bot.conversation.service import Helpline
from bot.store.conversations import Store
from intents import load_catalogue
from tests.conftest import StubClassifier
helpline = Helpline(StubClassifier(), load_catalogue(), Store({url!r}))
conversation_id = None
for i in range(100000):
    turn = helpline.handle(f"where is order {{i}}", conversation_id)
    conversation_id = turn.conversation_id
    print(turn.message_id, flush=True)   # the acknowledgement: sent only after the commit
"""


def test_a_killed_process_loses_no_acknowledged_message(store, db_url):
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER.format(root=str(ROOT), url=db_url)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT, env=os.environ.copy())
    acknowledged = []
    for line in process.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) == 40:
            process.send_signal(signal.SIGKILL)   # mid-conversation, maybe mid-transaction
            break
    process.wait()
    restarted = Store(db_url)                     # recovery: a new process opens the same database
    conversation_id = restarted.messages_by_id(acknowledged)[0].conversation_id
    stored = {m.id for m in restarted.messages(conversation_id)}
    assert set(acknowledged) <= stored
    restarted.engine.dispose()


@pytest.mark.parametrize("connection_dies", [False, True])
def test_a_failed_turn_writes_nothing_and_the_next_turn_is_stored(store, connection_dies):
    with pytest.raises(RuntimeError, match="policy broke"):
        with store.turn(None) as conversation:
            conversation.write([dict(role="customer", text="never acknowledged")], status="bot")
            if connection_dies:  # as when the database restarts mid-turn
                conversation.connection.invalidate()
            raise RuntimeError("policy broke")
    with store.turn(None) as conversation:
        ids = conversation.write([dict(role="customer", text="acknowledged")], status="bot")
    assert [m.text for m in store.messages_by_id(ids)] == ["acknowledged"]
    assert [m.text for m in store.customer_messages_since(dt.datetime(2000, 1, 1))] == ["acknowledged"]
