"""Triage: a priority score for each conversation waiting for a person, with the reasons behind it.

score = intent priority (the most urgent intent seen in the conversation: low 10, normal 25, high 45,
        urgent 65) + 30 x frustration of the latest message + 10 if frustration is rising + 10 x anger
        + 15 when the customer asked for a person or is upset (5 for other handoffs)
        + 1 per minute waiting for a reply, up to 30 (added when the queue is read)
Each part is listed in the reason, largest first, so an agent can see why a conversation is at the top.

A flood (one address with more than ``FLOOD_OPEN`` conversations in the queue at once: a script, or one
person opening many chats) is flagged and ranked below every other conversation, so it cannot bury real
customers; the agents still see it, marked.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from bot.model.prediction import OOS, Prediction

PRIORITY_POINTS = {"low": 10.0, "normal": 25.0, "high": 45.0, "urgent": 65.0}
FRUSTRATION_POINTS = 30.0
RISING_POINTS = 10.0
RISING_BY = 0.2
ANGER_POINTS = 10.0
WAIT_POINTS_PER_MINUTE = 1.0
WAIT_POINTS_MAX = 30.0
FLOOD_OPEN = 3
FLOOD_REASON = "flagged: repeated handoffs from one address"


@dataclass
class Priority:
    score: float
    parts: list[tuple[str, float]]  # (reason, points)

    @property
    def reason(self) -> str:
        ranked = sorted((p for p in self.parts if p[1] > 0.5), key=lambda p: -p[1])
        return "; ".join(f"{text} (+{points:.0f})" for text, points in ranked)


def turn_priority(prediction: Prediction, intent_priority: str, frustration_history: list[float],
                  handoff_reason: str | None, previous_level: str | None = None) -> tuple[Priority, str]:
    """The priority after a customer turn (without waiting time) and the conversation's priority level."""
    levels = list(PRIORITY_POINTS)
    level = intent_priority if prediction.intent != OOS else "low"
    if previous_level in PRIORITY_POINTS and levels.index(previous_level) > levels.index(level):
        level = previous_level
    parts = [(f"{level} priority intent", PRIORITY_POINTS[level])]
    parts.append((f"frustration {prediction.frustration:.2f}", FRUSTRATION_POINTS * prediction.frustration))
    earlier = frustration_history[:-1]
    if earlier and prediction.frustration - min(earlier) >= RISING_BY:
        parts.append(("frustration rising", RISING_POINTS))
    anger = prediction.emotions.get("anger", 0.0)
    parts.append((f"anger {anger:.2f}", ANGER_POINTS * anger))
    if handoff_reason:
        upset = handoff_reason.startswith(("asked for a person", "frustration"))
        parts.append((f"handoff: {handoff_reason}", 15.0 if upset else 5.0))
    return Priority(round(sum(p for _, p in parts), 2), parts), level


def with_waiting(score: float, reason: str, waiting_since: dt.datetime | None,
                 now: dt.datetime) -> tuple[float, str]:
    """(score, reason) of a queued conversation: its stored turn priority plus points for waiting time."""
    if waiting_since is None:
        return score, reason
    if waiting_since.tzinfo is None:  # SQLite hands back naive datetimes; they are stored in UTC
        waiting_since = waiting_since.replace(tzinfo=dt.UTC)
    minutes = max(0.0, (now - waiting_since).total_seconds() / 60)
    points = min(WAIT_POINTS_MAX, WAIT_POINTS_PER_MINUTE * minutes)
    return round(score + points, 2), (f"{reason}; waiting {minutes:.0f} min (+{points:.0f})" if points >= 0.5
                                      else reason)


def flooding_sources(conversations) -> set[str]:
    """The sources (hashed addresses) with more than FLOOD_OPEN open conversations."""
    counts = Counter(c.source for c in conversations if getattr(c, "source", None))
    return {source for source, n in counts.items() if n > FLOOD_OPEN}


def order_queue(conversations, now: dt.datetime) -> list[tuple[object, float, str]]:
    """(conversation, score, reason) for open conversations, most urgent first (ties: waiting longest first);
    flagged floods last."""
    conversations = list(conversations)
    flood = flooding_sources(conversations)
    scored = []
    for c in conversations:
        score, reason = with_waiting(c.priority, c.priority_reason, c.waiting_since, now)
        flagged = getattr(c, "source", None) in flood
        scored.append((c, score, f"{FLOOD_REASON}; {reason}" if flagged else reason, flagged))
    ranked = sorted(scored, key=lambda row: (row[3], -row[1], row[0].updated))
    return [row[:3] for row in ranked]
