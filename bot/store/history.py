"""Stored conversations as transcripts, for learning from what agents did (suggested replies)."""
from __future__ import annotations

from sqlalchemy import func, select

from bot.store.schema import Message

HISTORY_CONVERSATIONS = 5000   # the newest conversations with an agent reply that suggestions learn from


def agent_reply_history(store, limit: int = HISTORY_CONVERSATIONS) -> list[dict]:
    """The newest ``limit`` conversations in which an agent replied, as transcript dicts ({"id", "messages"})
    in the shared transcript format: two queries, whatever the number of conversations."""
    with store.sessions() as session:
        ids = list(session.scalars(select(Message.conversation_id).where(Message.role == "agent")
                                   .group_by(Message.conversation_id).order_by(func.max(Message.id).desc())
                                   .limit(limit)))
        rows = session.execute(select(Message.conversation_id, Message.role, Message.text)
                               .where(Message.conversation_id.in_(ids)).order_by(Message.id)).all() if ids else []
    conversations: dict[str, list[dict]] = {}
    for conversation_id, role, text in rows:
        conversations.setdefault(conversation_id, []).append({"role": role, "text": text})
    return [{"id": key, "messages": messages} for key, messages in conversations.items()]
