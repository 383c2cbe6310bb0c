"""Reading stored customer messages in bulk: for retraining and discovery (every message, a page at a time), the
Insights tab (since a date, capped) and the console. Mixed into `bot.store.conversations.Store`."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.store.schema import Handoff, Message


class MessageReads:
    def all_customer_messages(self, page: int = 5000):
        """Every stored customer message, oldest first, read a page at a time (for retraining and discovery:
        no cap, and memory for one page)."""
        last = 0
        while True:
            with self.sessions() as session:
                rows = list(session.scalars(select(Message).where(Message.role == "customer", Message.id > last)
                                            .order_by(Message.id).limit(page)))
            yield from rows
            if len(rows) < page:
                return
            last = rows[-1].id

    def customer_messages_since(self, since: dt.datetime, limit: int = 100_000) -> list[Message]:
        """Customer messages newer than ``since`` for the Insights tab, newest first: at most ``limit``, the
        newest (the tab shows an overview; the cap keeps a refresh quick on a busy store)."""
        with self.sessions() as session:
            return list(session.scalars(select(Message).where(Message.role == "customer", Message.created >= since)
                                        .order_by(Message.id.desc()).limit(limit)))

    def handoffs_since(self, since: dt.datetime) -> list[Handoff]:
        with self.sessions() as session:
            return list(session.scalars(select(Handoff).where(Handoff.created >= since)))

    def messages_by_id(self, ids: list[int]) -> list[Message]:
        with self.sessions() as session:
            return list(session.scalars(select(Message).where(Message.id.in_(ids)).order_by(Message.id)))

    def count_messages(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count(Message.id)))
