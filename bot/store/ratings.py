"""CSAT: the customer's own rating of a conversation ("How did we do?", 1-5 and an optional comment), stored on
the conversation, once. Mixed into `bot.store.conversations.Store`."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.redact import redact
from bot.store.schema import Conversation, utcnow

MAX_COMMENT = 1000


class AlreadyRated(ValueError):
    """A conversation is rated once; a second rating is refused (never asked twice)."""


class Ratings:
    def rate(self, conversation_id: str, rating: int, comment: str = "") -> Conversation:
        """Keep the customer's rating, its comment redacted like every customer message (every path that stores a
        rating comes through here). KeyError: no such conversation; AlreadyRated: it has one."""
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise ValueError(f"rating must be a whole number from 1 to 5, not {rating!r}")
        comment = (comment or "").strip()
        if len(comment) > MAX_COMMENT:
            raise ValueError(f"the comment has {len(comment)} characters; the limit is {MAX_COMMENT}")
        with self.transaction() as session:
            conversation = self._locked(session, conversation_id)
            if conversation.csat is not None:
                raise AlreadyRated(f"conversation {conversation_id} was already rated")
            conversation.csat, conversation.csat_at = rating, utcnow()
            conversation.csat_comment = redact(comment) if comment else None
            return conversation

    def ratings_since(self, since: dt.datetime) -> list[Conversation]:
        """Rated conversations whose rating came after ``since`` (for Insights)."""
        with self.sessions() as session:
            return list(session.scalars(select(Conversation).where(Conversation.csat_at >= since)
                                        .order_by(Conversation.csat_at)))

    def rated_conversations(self, limit: int = 20_000) -> list[tuple[dict, int]]:
        """The latest rated conversations as transcripts ({"id", "messages": [{"role", "text", "time"}]}) with
        their CSAT: conversation-level labels for retraining the mood head."""
        with self.sessions() as session:
            rated = session.scalars(select(Conversation).where(Conversation.csat.is_not(None))
                                    .order_by(Conversation.csat_at.desc()).limit(limit)).all()
            return [({"id": c.id, "messages": [{"role": m.role, "text": m.text, "time": epoch(m.created)}
                                               for m in c.messages]}, c.csat) for c in rated]


def epoch(moment: dt.datetime) -> float:
    """Seconds since 1970 of a stored time (SQLite hands back naive UTC times)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()
