"""The conversation store (SQLAlchemy on SQLite or PostgreSQL): conversations, messages, agent accounts,
migrations and retention. `Store` is the entry point."""
from bot.store.conversations import OPEN, ReusedKey, Store, UnknownConversation

__all__ = ["OPEN", "ReusedKey", "Store", "UnknownConversation"]
