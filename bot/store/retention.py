"""Retention: delete what the store should not keep forever. Run by `python -m bot purge` and once a day by the
app (HELPLINE_RETENTION_DAYS, default 365; 0 keeps conversations forever).

- conversations not updated for the retention period, with their messages, handoffs, label corrections,
  feedback and turn receipts (an open conversation is kept: someone may still be working on it);
- agent sessions that expired or sat idle past the idle timeout;
- turn receipts older than a day (a resend comes within seconds; the key only has to outlive that).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import delete, or_, select

from bot.store.accounts import IDLE_MINUTES
from bot.store.conversations import OPEN, Store
from bot.store.schema import (
    AgentSession,
    Conversation,
    Feedback,
    Handoff,
    LabelCorrection,
    Message,
    TurnReceipt,
    utcnow,
)

log = logging.getLogger("helpline.retention")
DEFAULT_RETENTION_DAYS = 365
RECEIPT_HOURS = 24
BATCH = 500  # conversations deleted per transaction: a big purge never holds the write lock for long


@dataclass
class Purged:
    conversations: int = 0
    sessions: int = 0
    receipts: int = 0


def purge(store: Store, days: int = DEFAULT_RETENTION_DAYS, now: dt.datetime | None = None) -> Purged:
    """Delete what is past retention (see the module docstring); ``days`` 0 keeps every conversation."""
    now = now or utcnow()
    done = Purged()
    if days > 0:
        cutoff = now - dt.timedelta(days=days)
        while True:
            with store.transaction() as session:
                ids = list(session.scalars(select(Conversation.id).where(Conversation.updated < cutoff,
                                                                         Conversation.status.not_in(OPEN))
                                           .limit(BATCH)))
                if not ids:
                    break
                messages = select(Message.id).where(Message.conversation_id.in_(ids))
                session.execute(delete(LabelCorrection).where(LabelCorrection.message_id.in_(messages)))
                for table in (Feedback, Handoff, TurnReceipt):
                    session.execute(delete(table).where(table.conversation_id.in_(ids)))
                session.execute(delete(Message).where(Message.conversation_id.in_(ids)))
                session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
                done.conversations += len(ids)
    idle = now - dt.timedelta(minutes=IDLE_MINUTES)
    with store.transaction() as session:
        done.sessions = session.execute(delete(AgentSession).where(or_(
            AgentSession.expires < now, AgentSession.last_seen < idle))).rowcount
        done.receipts = session.execute(delete(TurnReceipt).where(
            TurnReceipt.created < now - dt.timedelta(hours=RECEIPT_HOURS))).rowcount
    return done


def start_daily_purge(store: Store, days: int, interval_hours: float = 24.0) -> threading.Thread:
    """Purge now and then every ``interval_hours`` in a daemon thread (every app process may run it: the
    deletes are idempotent)."""
    def run():
        while True:
            try:
                done = purge(store, days)
                if done.conversations or done.sessions:
                    log.warning("retention: deleted %d conversations older than %d days, %d agent sessions",
                                done.conversations, days, done.sessions)
            except Exception as exc:  # noqa: BLE001 - a busy database: try again next time
                log.error("retention purge failed: %s", exc)
            time.sleep(interval_hours * 3600)

    thread = threading.Thread(target=run, name="helpline-retention", daemon=True)
    thread.start()
    return thread
