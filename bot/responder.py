"""A first reply policy: answer from the catalogue, clarify close calls, fall back, flag handoffs.

(The full dialogue policy with conversation context and escalation rules grows out of this.)
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from intents import Catalogue

from .model import HelplineModel
from .prediction import Prediction

CLARIFY_MARGIN = 0.15    # top two intents closer than this (and the top under CLARIFY_BELOW): ask which one
CLARIFY_BELOW = 0.6


@dataclass
class BotReply:
    text: str
    prediction: Prediction
    action: str                                   # answer | clarify | fallback | handoff | triage
    quick_replies: list[str] = field(default_factory=list)

    @property
    def handoff(self) -> bool:
        return self.action in ("handoff", "triage")


def _pick(options: tuple[str, ...], text: str) -> str:
    """A reply chosen by the message's hash: varied across messages, stable for the same message (testable)."""
    return options[zlib.crc32(text.encode("utf-8")) % len(options)]


class Responder:
    def __init__(self, model: HelplineModel, catalogue: Catalogue):
        self.model = model
        self.catalogue = catalogue

    def reply(self, message: str) -> BotReply:
        prediction = self.model.predict(message)
        return self.decide(prediction)

    def decide(self, p: Prediction) -> BotReply:
        cat = self.catalogue
        if p.out_of_scope:
            return BotReply(_pick(cat.fallback_replies, p.text), p, "fallback")
        (first, c1), (second, c2) = (p.alternatives + [("", 0.0)])[:2]
        if c1 < CLARIFY_BELOW and c1 - c2 < CLARIFY_MARGIN and first in cat and second in cat:
            return BotReply("Just to be sure, which of these is it?", p, "clarify",
                            quick_replies=[cat[first].label, cat[second].label])
        if p.intent not in cat:  # the model knows it, the catalogue has no answer: route to a person with the label
            return BotReply(f"I've passed your question ({p.intent.replace('_', ' ')}) to our support team; "
                            "someone will reply here shortly.", p, "triage")
        intent = cat[p.intent]
        if intent.handoff:
            return BotReply(f"{_pick(intent.replies, p.text)} {cat.handoff_reply}".strip(), p, "handoff")
        return BotReply(_pick(intent.replies, p.text), p, "answer", quick_replies=list(intent.quick_replies))
