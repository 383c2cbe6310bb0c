"""The conversation store: SQLAlchemy on SQLite (default, WAL) or PostgreSQL (engine: bot/store/database.py).

A turn is one transaction: the customer message, the bot's reply, the policy state and the triage score are
committed together before the reply is returned, so an acknowledged message is stored even if the process
dies right after. Every process reads conversation state from here (nothing lives only in memory), so several
app processes can serve one database.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import threading
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot.store.accounts import AgentAccounts
from bot.store.addresses import ClientAddresses
from bot.store.database import BUSY_SECONDS, MAX_ID, StoreUnavailable, make_engine, migrate
from bot.store.labels import LabelQueue
from bot.store.ratings import Ratings, epoch
from bot.store.reads import MessageReads
from bot.store.schema import (
    OPEN,
    Conversation,
    Feedback,
    Handoff,
    Message,
    Status,
    TurnReceipt,
    utcnow,
)

DEFAULT_DB = "sqlite:///helpline.db"
QUEUE_SCAN = 2000            # open conversations the queue ranks at most (the most urgent by stored priority)
CONVERSATIONS, MESSAGES, HANDOFFS = Conversation.__table__, Message.__table__, Handoff.__table__
RECEIPTS = TurnReceipt.__table__
# a turn's statements, built once (parameters are passed at execution, so each compiles once and is cached)
LOCK_CONVERSATION = (select(CONVERSATIONS.c.state, CONVERSATIONS.c.status, CONVERSATIONS.c.waiting_since)
                     .where(CONVERSATIONS.c.id == bindparam("conversation_id")).with_for_update())
UPDATE_CONVERSATION = update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation_id"))
INSERT_CONVERSATION, INSERT_MESSAGE, INSERT_HANDOFF = insert(CONVERSATIONS), insert(MESSAGES), insert(HANDOFFS)
INSERT_RECEIPT = insert(RECEIPTS)
HISTORY = 40   # the latest messages a turn reads its conversation's context from (bot/model/mood.py)
# the two fields of the prediction JSON are extracted by the database: decoding whole predictions (every emotion,
# the alternatives) in Python for each earlier message was a measurable part of a turn's time
READ_HISTORY = (select(MESSAGES.c.role, MESSAGES.c.text, MESSAGES.c.created, MESSAGES.c.intent, MESSAGES.c.frustration,
                       MESSAGES.c.prediction["model_intent"].as_string(),
                       MESSAGES.c.prediction["mood_score"].as_float())
                .where(MESSAGES.c.conversation_id == bindparam("conversation_id"))
                .order_by(MESSAGES.c.id.desc()).limit(bindparam("limit")))
FIND_RECEIPT = select(RECEIPTS.c.message_hash, RECEIPTS.c.response).where(RECEIPTS.c.key == bindparam("key"))


class UnknownConversation(ValueError):
    """A conversation id the server never made (ids are made by the server only)."""

    def __init__(self, conversation_id: str, message: str | None = None):
        super().__init__(message or f"no conversation {conversation_id}: leave conversation_id out to start a new "
                                    "one")


class ReusedKey(ValueError):
    """An idempotency key sent again with a different message."""


@dataclass
class ConversationTurn:
    """A conversation as one turn found it (inside the turn's transaction), and the writes of that turn."""
    connection: Connection
    id: str
    channel: str
    new: bool
    state: dict
    status: str
    waiting_since: dt.datetime | None
    now: dt.datetime
    source: str | None = None

    def write(self, messages: list[dict], handoff_reason: str | None = None, **conversation) -> list[int]:
        """Store the turn: the conversation's new fields, its messages (ids returned in order), a handoff."""
        execute, fields = self.connection.execute, {**conversation, "updated": self.now}
        if self.new:  # first, for the messages' foreign key
            execute(INSERT_CONVERSATION, {"id": self.id, "channel": self.channel, "created": self.now,
                                          "source": self.source, **fields})
        else:
            execute(UPDATE_CONVERSATION, {"conversation_id": self.id, **fields})
        ids = [execute(INSERT_MESSAGE, {"conversation_id": self.id, "created": self.now, **message})
               .inserted_primary_key[0] for message in messages]
        if handoff_reason:
            execute(INSERT_HANDOFF, {"conversation_id": self.id, "reason": handoff_reason, "created": self.now})
        return ids

    def history(self, limit: int = HISTORY) -> list[dict]:
        """The conversation's latest messages before this turn, oldest first, as transcript turns ({"role",
        "text", "time"}, customer messages with the "intent" and "mood_score" the model read then)."""
        if self.new:
            return []
        rows = self.connection.execute(READ_HISTORY, {"conversation_id": self.id, "limit": limit}).all()
        turns = []
        for role, text, created, intent, frustration, model_intent, mood_score in reversed(rows):
            turn = {"role": role, "text": text, "time": epoch(created)}
            if role == "customer":
                turn.update(intent=model_intent or intent,
                            mood_score=mood_score if mood_score is not None else frustration or 0.0)
            turns.append(turn)
        return turns

    def receipt(self, key: str, message_hash: str, response: dict) -> None:
        """Keep the turn's reply under its idempotency key (a second insert of the key fails the transaction,
        so of two racing sends only one turn is stored)."""
        self.connection.execute(INSERT_RECEIPT, {"key": key, "conversation_id": self.id,
                                                 "message_hash": message_hash, "response": response,
                                                 "created": self.now})


class Store(AgentAccounts, ClientAddresses, Ratings, LabelQueue, MessageReads):
    """Conversations, messages, handoffs, corrections and feedback (agent accounts: accounts.py; client
    addresses: addresses.py; ratings: ratings.py). ``secret``: HELPLINE_SECRET, the key of address hashes."""

    def __init__(self, url: str = DEFAULT_DB, *, migrate_schema: bool = True, busy_seconds: float = BUSY_SECONDS,
                 secret: str | None = None):
        self.url, self.secret = url, secret
        self.busy_seconds = busy_seconds
        self.engine = make_engine(url, busy_seconds)
        if migrate_schema:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if url.startswith("sqlite") else None
        self._turn_connection: Connection | None = None  # SQLite only, see _turn_transaction

    @contextlib.contextmanager
    def _writer(self):
        """On SQLite, writers of this process queue on a lock here instead of in SQLite's busy handler, which
        sleeps in steps of up to 100 ms and would make tail latency spiky. A writer that cannot get it in time
        (another process holds the database) is told so instead of hanging."""
        if self._write_lock is None:
            yield
            return
        if not self._write_lock.acquire(timeout=self.busy_seconds):
            raise StoreUnavailable("waited too long for the database")
        try:
            yield
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def transaction(self):
        """One write transaction."""
        with self._writer(), self.sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def _turn_transaction(self):
        """A turn's transaction. SQLite has one writer at a time and this process's writers queue on the write
        lock anyway, so on SQLite the turns share one connection instead of taking one from the pool each time
        (the pool's check-out and reset cost Python time under the GIL on every turn); PostgreSQL turns run in
        parallel, each on a pooled connection."""
        if not self.url.startswith("sqlite"):
            with self.engine.begin() as connection:
                yield connection
            return
        if self._turn_connection is None:  # (after a failure, SQLAlchemy reconnects it on the next begin)
            self._turn_connection = self.engine.connect()
        with self._turn_connection.begin():
            yield self._turn_connection

    # ------------------------------------------------------------------------------------- conversations
    @contextlib.contextmanager
    def turn(self, conversation_id: str | None, channel: str = "chat", source: str | None = None):
        """A customer turn's transaction: yields the conversation's current state, locked (a new one, with an
        id made here, when ``conversation_id`` is None), whose ``write`` stores the turn. UnknownConversation
        for an id this server never made. SQLAlchemy Core, not the ORM: the unit of work cost most of a turn's
        database time, and this is the hot path of every message."""
        with self._writer(), self._turn_transaction() as connection:
            row = None
            if conversation_id is not None:
                row = connection.execute(LOCK_CONVERSATION, {"conversation_id": conversation_id}).first()
                if row is None:
                    raise UnknownConversation(conversation_id)
            yield ConversationTurn(connection, conversation_id or uuid.uuid4().hex, channel, new=row is None,
                                   state=dict(row.state or {}) if row else {},
                                   status=row.status if row else Status.BOT.value,
                                   waiting_since=row.waiting_since if row else None, now=utcnow(), source=source)

    def find_receipt(self, key: str, message_hash: str) -> dict | None:
        """The stored reply to the turn sent with idempotency ``key``; ReusedKey if that key came with another
        message."""
        with self.engine.connect() as connection:
            row = connection.execute(FIND_RECEIPT, {"key": key}).first()
        if row is None:
            return None
        if row.message_hash != message_hash:
            raise ReusedKey("this Idempotency-Key was already used for a different message; make a new key "
                            "for each new message")
        return row.response

    @staticmethod
    def _locked(session: Session, conversation_id: str) -> Conversation:
        """An existing conversation, locked for this transaction; KeyError when there is none."""
        conversation = session.get(Conversation, conversation_id, with_for_update=True)
        if conversation is None:
            raise KeyError(conversation_id)
        return conversation

    def conversation(self, conversation_id: str) -> Conversation | None:
        with self.sessions() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is not None:
                conversation.messages  # noqa: B018 - load them before the session closes
            return conversation

    def messages(self, conversation_id: str, after_id: int = 0) -> list[Message]:
        """Messages of a conversation newer than ``after_id`` (for live updates: poll with the last id seen)."""
        after_id = min(max(0, after_id), MAX_ID)
        with self.sessions() as session:
            return list(session.scalars(select(Message).where(Message.conversation_id == conversation_id,
                                                              Message.id > after_id).order_by(Message.id)))

    def last_customer_messages(self, conversation_ids: list[str]) -> dict[str, Message]:
        """The latest customer message of each conversation, in one query (the console's queue asks every 3 s)."""
        with self.sessions() as session:
            latest = (select(func.max(Message.id)).where(Message.role == "customer",
                                                         Message.conversation_id.in_(conversation_ids))
                      .group_by(Message.conversation_id))
            return {m.conversation_id: m for m in session.scalars(select(Message).where(Message.id.in_(latest)))}

    def open_conversations(self, limit: int = QUEUE_SCAN) -> list[Conversation]:
        """Conversations waiting for or with a person (the triage module orders them): at most ``limit``, the
        highest stored priority first, so a flood of handoffs cannot make every queue refresh read them all."""
        with self.sessions() as session:
            return list(session.scalars(select(Conversation).where(Conversation.status.in_(OPEN))
                                        .order_by(Conversation.priority.desc(), Conversation.updated.desc())
                                        .limit(limit)))

    def recent_conversations(self, limit: int = 100) -> list[Conversation]:
        with self.sessions() as session:
            return list(session.scalars(select(Conversation).order_by(Conversation.updated.desc()).limit(limit)))

    def change(self, conversation_id: str, decide, agent_id: int | None = None,
               reply: str | None = None) -> Message | None:
        """Save an agent's action on a conversation: ``decide(status, state) -> Change`` (bot/conversation/state.py)
        runs under the conversation's lock on what is stored then, so two agents acting at once never overwrite
        each other; ``reply``: the agent's message, stored with it. KeyError: no such conversation."""
        with self.transaction() as session:
            conversation = self._locked(session, conversation_id)
            change = decide(conversation.status, dict(conversation.state or {}))
            conversation.status, conversation.state = change.status, change.state
            conversation.agent_id = agent_id or conversation.agent_id
            if change.stops_waiting:
                conversation.waiting_since = None
            if change.handoff_reason:
                session.add(Handoff(conversation_id=conversation_id, reason=change.handoff_reason, taken_by=agent_id))
            if change.resolve_handoffs:
                for handoff in session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)):
                    handoff.resolved = True
            if reply is None:
                return None
            message = Message(conversation_id=conversation_id, role="agent", text=reply, created=utcnow(),
                              agent_id=agent_id)
            session.add(message)
            conversation.updated = message.created
            return message

    def add_feedback(self, conversation_id: str, rating: int, comment: str = "", message_id: int | None = None):
        with self.transaction() as session:
            session.add(Feedback(conversation_id=conversation_id, rating=rating, comment=comment,
                                 message_id=message_id))
