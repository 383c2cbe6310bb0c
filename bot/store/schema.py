"""The conversation store's tables (SQLAlchemy ORM). Schema changes go through Alembic (bot/migrations).

Every customer message is stored with the prediction made for it and the model version that made it, so
agents can see why the bot acted and corrections can feed retraining. Texts are stored redacted.
"""
from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Status(str, enum.Enum):
    """Where a conversation is (stored as the value in `conversations.status`)."""
    BOT = "bot"            # the bot answers
    WAITING = "waiting"    # handed off, waiting for a person
    AGENT = "agent"        # a person has it
    RESOLVED = "resolved"  # closed; the next message starts afresh with the bot


OPEN = (Status.WAITING.value, Status.AGENT.value)  # statuses in the agents' queue


@dataclass(frozen=True)
class Change:
    """What an agent's action does to a conversation, decided by bot/conversation/state.py and saved as it is by
    the store (which does not know why): its new status and dialogue state, and the handoff bookkeeping."""
    status: str
    state: dict
    handoff_reason: str | None = None     # record a new handoff with this reason
    resolve_handoffs: bool = False        # mark the conversation's handoffs resolved
    stops_waiting: bool = True            # it no longer waits in the queue for a first person


class Base(DeclarativeBase):
    pass


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    role: Mapped[str] = mapped_column(String(16), default="agent")    # agent | admin (promote, retrain)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)    # cannot log in; its sessions end


class AgentSession(Base):
    """A console/API login: the token's SHA-256 (never the token) and when it expires."""
    __tablename__ = "agent_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # for the idle timeout


class AgentAddress(Base):
    """An address (keyed hash, bot/store/addresses.py) an agent logged in from: a lockout by failed logins
    elsewhere does not lock the agent out here."""
    __tablename__ = "agent_addresses"
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_login: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServerSecret(Base):
    """A random secret made once and shared by every app process on the database (HELPLINE_SECRET overrides)."""
    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="bot", index=True)  # Status
    channel: Mapped[str] = mapped_column(String(32), default="chat")
    state: Mapped[dict] = mapped_column(JSON, default=dict)            # bot.conversation.state.ConversationState
    last_intent: Mapped[str | None] = mapped_column(String(120))
    priority: Mapped[float] = mapped_column(Float, default=0.0)        # triage score without waiting time
    priority_reason: Mapped[str] = mapped_column(Text, default="")
    waiting_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))  # unanswered customer
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # keyed hash of the client address (addresses.py)
    source: Mapped[str | None] = mapped_column(String(32), index=True)
    csat: Mapped[int | None] = mapped_column(Integer)                  # the customer's rating, 1-5 ("How did we do?")
    csat_comment: Mapped[str | None] = mapped_column(Text)
    csat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    messages: Mapped[list[Message]] = relationship(back_populates="conversation", order_by="Message.id")


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))                      # customer | bot | agent
    text: Mapped[str] = mapped_column(Text)                            # redacted
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    intent: Mapped[str | None] = mapped_column(String(120), index=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    frustration: Mapped[float | None] = mapped_column(Float)
    prediction: Mapped[dict | None] = mapped_column(JSON)              # alternatives, emotions, action
    model_version: Mapped[str | None] = mapped_column(String(120))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Handoff(Base):
    __tablename__ = "handoffs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)


class LabelCorrection(Base):
    __tablename__ = "label_corrections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    intent: Mapped[str] = mapped_column(String(120))
    previous_intent: Mapped[str | None] = mapped_column(String(120))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    rating: Mapped[int] = mapped_column(Integer)                       # -1 unhelpful, +1 helpful
    comment: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TurnReceipt(Base):
    """The reply to a customer turn sent with an idempotency key: a resend of that key gets this reply back
    instead of storing the turn twice. Written in the turn's own transaction."""
    __tablename__ = "turn_receipts"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_hash: Mapped[str] = mapped_column(String(64))             # the message the key was first sent with
    response: Mapped[dict] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
