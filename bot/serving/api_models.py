"""The REST API's request and response bodies (pydantic: validated in, documented in /docs) and the JSON shapes
of stored conversations and messages."""
from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from bot.conversation.service import CONVERSATION_ID, MAX_MESSAGE_CHARS
from bot.store.ratings import MAX_COMMENT

MAX_BATCH = 64


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    conversation_id: str | None = Field(default=None, pattern=f"^{CONVERSATION_ID.pattern}$")


class ChatOut(BaseModel):
    """The reply to POST /api/chat (documented here; the endpoint returns it as built)."""
    conversation_id: str
    message_id: int
    reply_message_id: int | None = Field(description="the bot's reply message (None when a person has it)")
    reply: str
    action: str = Field(description="what the bot did: answer, clarify, fallback, handoff, triage or with_agent")
    intent: str = Field(description="an intent of the catalogue, or 'oos' (out of scope)")
    confidence: float
    emotions: dict[str, float] = Field(description="the strongest detected emotions, with their scores")
    sentiment: str
    frustration: float
    handoff: bool = Field(description="true once the conversation is with (or waiting for) a person")
    priority: float
    quick_replies: list[str]
    ask_csat: bool = Field(description="the customer said they are done: ask for a rating (POST .../csat)")


class CsatIn(BaseModel):
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: str = Field(default="", max_length=MAX_COMMENT)


class ClassifyIn(BaseModel):
    text: str | None = Field(default=None, min_length=1, max_length=MAX_MESSAGE_CHARS)
    texts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def one_of(self):
        if (self.text is None) == (self.texts is None):
            raise ValueError("give either 'text' or 'texts'")
        for i, text in enumerate(self.texts or []):
            if not text.strip() or len(text) > MAX_MESSAGE_CHARS:
                raise ValueError(f"texts[{i}] must be 1-{MAX_MESSAGE_CHARS} characters and not blank")
        return self


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class LabelIn(BaseModel):
    intent: str = Field(min_length=1, max_length=120)


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=200)


def message_json(m) -> dict:
    return {"id": m.id, "role": m.role, "text": m.text, "created": m.created.isoformat(), "intent": m.intent,
            "confidence": m.confidence, "sentiment": m.sentiment, "frustration": m.frustration,
            "prediction": m.prediction, "model_version": m.model_version}


def conversation_json(c, score: float | None = None, reason: str | None = None) -> dict:
    return {"id": c.id, "status": c.status, "created": c.created.isoformat(), "updated": c.updated.isoformat(),
            "last_intent": c.last_intent, "priority": c.priority if score is None else score,
            "priority_reason": c.priority_reason if reason is None else reason,
            "handoff_reason": (c.state or {}).get("handoff_reason"), "csat": c.csat, "csat_comment": c.csat_comment}
