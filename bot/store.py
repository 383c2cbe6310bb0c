"""The conversation store: SQLAlchemy on SQLite (default, WAL) or PostgreSQL, migrated with Alembic.

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
from pathlib import Path

from sqlalchemy import bindparam, create_engine, event, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from .accounts import AgentAccounts
from .schema import Conversation, Feedback, Handoff, LabelCorrection, Message, utcnow

DEFAULT_DB = "sqlite:///helpline.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
OPEN = ("waiting", "agent")  # statuses in the agents' queue
CONVERSATIONS, MESSAGES, HANDOFFS = Conversation.__table__, Message.__table__, Handoff.__table__
# a turn's statements, built once (parameters are passed at execution, so each compiles once and is cached)
LOCK_CONVERSATION = (select(CONVERSATIONS.c.state, CONVERSATIONS.c.status, CONVERSATIONS.c.waiting_since)
                     .where(CONVERSATIONS.c.id == bindparam("conversation_id")).with_for_update())
UPDATE_CONVERSATION = update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("conversation_id"))
INSERT_CONVERSATION, INSERT_MESSAGE, INSERT_HANDOFF = insert(CONVERSATIONS), insert(MESSAGES), insert(HANDOFFS)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            # WAL: readers never block the writer. synchronous=NORMAL: a committed transaction survives a
            # killed process (it is in the WAL file); only an OS crash or power cut can lose the last ones.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # IMMEDIATE takes the write lock at the start, so two processes serving the same conversation
            # cannot both read its state and then overwrite each other's update.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (Alembic `upgrade head`)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


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

    def write(self, messages: list[dict], handoff_reason: str | None = None, **conversation) -> list[int]:
        """Store the turn: the conversation's new fields, its messages (ids returned in order), a handoff."""
        execute, fields = self.connection.execute, {**conversation, "updated": self.now}
        if self.new:  # first, for the messages' foreign key
            execute(INSERT_CONVERSATION, {"id": self.id, "channel": self.channel, "created": self.now, **fields})
        else:
            execute(UPDATE_CONVERSATION, {"conversation_id": self.id, **fields})
        ids = [execute(INSERT_MESSAGE, {"conversation_id": self.id, "created": self.now, **message})
               .inserted_primary_key[0] for message in messages]
        if handoff_reason:
            execute(INSERT_HANDOFF, {"conversation_id": self.id, "reason": handoff_reason, "created": self.now})
        return ids


class Store(AgentAccounts):
    """Conversations, messages, handoffs, corrections and feedback (agent accounts: bot/accounts.py)."""

    def __init__(self, url: str = DEFAULT_DB, *, migrate_schema: bool = True):
        self.url = url
        self.engine = make_engine(url)
        if migrate_schema:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if url.startswith("sqlite") else contextlib.nullcontext()
        self._turn_connection: Connection | None = None  # SQLite only, see _turn_transaction

    @contextlib.contextmanager
    def transaction(self):
        """One write transaction. On SQLite, writers of this process queue on a lock here instead of in
        SQLite's busy handler, which sleeps in steps of up to 100 ms and would make tail latency spiky."""
        with self._write_lock, self.sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def _turn_transaction(self):
        """A turn's transaction. SQLite has one writer at a time and this process's writers queue on the write
        lock anyway, so on SQLite the turns share one connection instead of taking one from the pool each time
        (the pool's check-out and reset were ~9% of the GIL-holding samples in a py-spy profile under load); PostgreSQL turns run in
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
    def turn(self, conversation_id: str | None, channel: str = "chat"):
        """A customer turn's transaction: yields the conversation's current state, locked (a new one when
        ``conversation_id`` is None or unknown), whose ``write`` stores the turn. SQLAlchemy Core, not the
        ORM: the unit of work cost ~1 ms of a ~1.4 ms turn, and this is the hot path of every message."""
        with self._write_lock, self._turn_transaction() as connection:
            row = None
            if conversation_id is not None:
                row = connection.execute(LOCK_CONVERSATION, {"conversation_id": conversation_id}).first()
            yield ConversationTurn(connection, conversation_id or uuid.uuid4().hex, channel, new=row is None,
                                   state=dict(row.state or {}) if row else {}, status=row.status if row else "bot",
                                   waiting_since=row.waiting_since if row else None, now=utcnow())

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

    def customer_messages_since(self, since: dt.datetime, limit: int = 100_000) -> list[Message]:
        """Customer messages newer than ``since`` (for insights), newest first."""
        with self.sessions() as session:
            return list(session.scalars(select(Message).where(Message.role == "customer", Message.created >= since)
                                        .order_by(Message.id.desc()).limit(limit)))

    def handoffs_since(self, since: dt.datetime) -> list[Handoff]:
        with self.sessions() as session:
            return list(session.scalars(select(Handoff).where(Handoff.created >= since)))

    def messages_by_id(self, ids: list[int]) -> list[Message]:
        with self.sessions() as session:
            return list(session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)))

    def open_conversations(self) -> list[Conversation]:
        """Conversations waiting for or with a person (the triage module orders them)."""
        with self.sessions() as session:
            return list(session.scalars(select(Conversation).where(Conversation.status.in_(OPEN))))

    def recent_conversations(self, limit: int = 100) -> list[Conversation]:
        with self.sessions() as session:
            return list(session.scalars(select(Conversation).order_by(Conversation.updated.desc()).limit(limit)))

    def agent_reply(self, conversation_id: str, text: str, agent_id: int | None = None) -> Message:
        with self.transaction() as session:
            conversation = self._locked(session, conversation_id)
            conversation.status, conversation.waiting_since = "agent", None
            conversation.agent_id = agent_id or conversation.agent_id
            state = dict(conversation.state or {})
            state["handed_off"] = True  # once a person has written, the bot stays out of it
            conversation.state = state
            message = Message(conversation_id=conversation_id, role="agent", text=text, created=utcnow(),
                              agent_id=agent_id)
            session.add(message)
            conversation.updated = message.created
            return message

    def take_over(self, conversation_id: str, agent_id: int | None = None) -> None:
        """An agent takes the conversation: the bot stops answering in it."""
        with self.transaction() as session:
            conversation = self._locked(session, conversation_id)
            state = dict(conversation.state or {})
            if not state.get("handed_off"):
                state.update(handed_off=True, handoff_reason="taken over by an agent")
                session.add(Handoff(conversation_id=conversation_id, reason="taken over by an agent",
                                    taken_by=agent_id))
            conversation.state, conversation.status = state, "agent"
            conversation.agent_id = agent_id or conversation.agent_id

    def resolve(self, conversation_id: str) -> None:
        with self.transaction() as session:
            conversation = self._locked(session, conversation_id)
            conversation.status, conversation.waiting_since = "resolved", None
            # the next message starts afresh with the bot (the policy's handoff state is cleared)
            conversation.state = {**(conversation.state or {}), "handed_off": False, "handoff_reason": None,
                                  "waiting_acknowledged": False, "fallbacks_in_row": 0}
            for handoff in session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)):
                handoff.resolved = True

    def correct_label(self, message_id: int, intent: str, agent_id: int | None = None) -> LabelCorrection:
        with self.transaction() as session:
            message = session.get(Message, message_id)
            if message is None or message.role != "customer":
                raise KeyError(message_id)
            correction = LabelCorrection(message_id=message_id, intent=intent, previous_intent=message.intent,
                                         agent_id=agent_id)
            session.add(correction)
            return correction

    def review_queue(self, limit: int = 50, scan: int = 5000) -> list[tuple[Message, float]]:
        """Active learning: recent customer messages the model was least sure about (smallest margin between
        its top two intents), not yet labelled by an agent, least sure first."""
        with self.sessions() as session:
            corrected = select(LabelCorrection.message_id)
            recent = session.scalars(select(Message).where(Message.role == "customer", Message.id.not_in(corrected))
                                     .order_by(Message.id.desc()).limit(scan))
            scored = []
            for m in recent:
                alternatives = (m.prediction or {}).get("alternatives") or []
                top = [float(a[1]) for a in alternatives[:2]] + [0.0, 0.0]
                scored.append((m, round(top[0] - top[1], 4)))
        return sorted(scored, key=lambda ms: ms[1])[:limit]

    def label_corrections(self) -> list[tuple[str, str]]:
        """(stored text, corrected intent), the latest correction per message: training data for retraining."""
        with self.sessions() as session:
            latest = select(func.max(LabelCorrection.id)).group_by(LabelCorrection.message_id)
            rows = session.execute(select(Message.text, LabelCorrection.intent).join(
                LabelCorrection, LabelCorrection.message_id == Message.id).where(LabelCorrection.id.in_(latest)))
            return [tuple(row) for row in rows]

    def add_feedback(self, conversation_id: str, rating: int, comment: str = "", message_id: int | None = None):
        with self.transaction() as session:
            session.add(Feedback(conversation_id=conversation_id, rating=rating, comment=comment,
                                 message_id=message_id))

    def count_messages(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count(Message.id)))
