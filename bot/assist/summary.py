"""The handoff summary an agent reads before the transcript: extractive and template-based, nothing invented.

What the customer wants (their intents, in order), what the bot already answered or asked (its replies, as
sent), why it handed off, the references the customer gave (order numbers, dates, amounts: found by their
shape in the stored, already redacted text, so personal data stays redacted) and how their frustration moved.
Every piece is a stored message or a stored prediction; the sentence around it is a fixed template.
"""
from __future__ import annotations

import re

from bot.assist.templates import ORDER_ID
from bot.model.prediction import OOS

REFERENCE = re.compile(ORDER_ID                                      # order / account numbers
                       + r"|\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b"           # dates
                       r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
                       r"|[$€£]\s?\d[\d,]*(?:\.\d+)?", re.IGNORECASE)
REDACTED = re.compile(r"\[[A-Z_]+\]")   # bot.redact's placeholders are never references
MAX_REPLIES = 3


def _in_order(values) -> list:
    seen, out = set(), []
    for value in values:
        if value and value not in seen:
            seen.add(value)
            out.append(value)
    return out


def handoff_summary(messages, handoff_reason: str | None) -> dict:
    """The summary of a stored conversation (``messages``: objects with role, text, intent, frustration)."""
    customer = [m for m in messages if m.role == "customer"]
    bot = [m.text for m in messages if m.role == "bot"]
    intents = _in_order(m.intent for m in customer if m.intent and m.intent != OOS)
    references = _in_order(match.group(0) for m in customer for match in REFERENCE.finditer(m.text)
                           if not REDACTED.fullmatch(match.group(0)))
    scores = [round(m.frustration, 2) for m in customer if m.frustration is not None]
    trend = _trend(scores)
    lines = []
    if intents:
        lines.append("Customer wants: " + ", then ".join(i.replace("_", " ") for i in intents) + ".")
    elif customer:
        lines.append("Customer wants: nothing the bot recognised (out of scope).")
    if bot:
        lines.append("Bot already said: " + " | ".join(f"\u201c{text}\u201d" for text in bot[-MAX_REPLIES:]))
    if handoff_reason:
        lines.append(f"Handed off because: {handoff_reason}.")
    if references:
        lines.append("References: " + ", ".join(references) + ".")
    if scores:
        lines.append(f"Frustration: {trend} ({' -> '.join(f'{s:.2f}' for s in scores[-6:])}).")
    return {"intents": intents, "bot_replies": bot[-MAX_REPLIES:], "handoff_reason": handoff_reason,
            "references": references, "frustration": scores, "frustration_trend": trend, "text": "\n".join(lines)}


def _trend(scores: list[float]) -> str:
    if len(scores) < 2:
        return "one message" if scores else "no messages"
    change = scores[-1] - scores[0]
    if change >= 0.15:
        return "rising"
    if change <= -0.15:
        return "falling"
    return "steady"
