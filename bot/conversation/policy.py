"""The dialogue policy: per customer turn, answer, clarify, fall back or hand off to a person.

`DialoguePolicy.decide(prediction, state)` is a pure function of the prediction and the conversation's
`ConversationState` (which the store keeps between turns, so any process can serve the next turn). Rules, in
order: a conversation already with a person stays there; a click on a quick reply (or its exact text) means
that intent; asking for a person, high or rising frustration, or too many fallbacks in a row hand off; out of
scope falls back; a close call between two intents asks which; an intent the catalogue cannot answer goes to
the agents' queue with its label; an intent flagged `handoff` is answered and handed off; the rest is answered.
"""
from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.conversation.small_talk import REPLIES as SMALL_TALK_REPLIES
from bot.conversation.small_talk import small_talk
from bot.conversation.state import ConversationState
from bot.model.prediction import OOS, Prediction
from intents import Catalogue

DEFAULT_POLICY = Path(__file__).resolve().parent / "policy.yaml"
POLICY_FORMAT_VERSION = 1
ACTIONS = ("answer", "clarify", "fallback", "handoff", "triage", "with_agent")


@dataclass(frozen=True)
class PolicyConfig:
    clarify_margin: float = 0.15
    clarify_below: float = 0.60
    frustration_handoff: float = 0.60
    frustration_rise: float = 0.25
    frustration_rise_floor: float = 0.35
    trend_turns: int = 3
    max_fallbacks: int = 2
    human_intents: tuple[str, ...] = ("speak_to_human",)
    frustration_reply: str = "I'm sorry this has been frustrating."
    waiting_reply: str = "Thanks, I've added that to your conversation. A member of our team will reply here."

    @classmethod
    def load(cls, path: str | Path = DEFAULT_POLICY) -> PolicyConfig:
        """Read a policy YAML file; unknown keys, wrong types and a wrong version are errors naming the file."""
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"policy file {path}: cannot read it ({exc})") from exc
        if not isinstance(raw, dict):
            raise ValueError(f"policy file {path}: expected a mapping of settings")
        if raw.pop("format_version", None) != POLICY_FORMAT_VERSION:
            raise ValueError(f"policy file {path}: format_version must be {POLICY_FORMAT_VERSION}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"policy file {path}: unknown setting(s) {unknown}; known: {sorted(known)}")
        values = {}
        for key, value in raw.items():
            default = getattr(cls, key)
            if isinstance(default, tuple):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"policy file {path}: {key} must be a list of intent names")
                value = tuple(value)
            elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not type(default):
                raise ValueError(f"policy file {path}: {key} must be a {type(default).__name__}, got {value!r}")
            values[key] = value
        return cls(**values)


@dataclass
class Decision:
    action: str                      # one of ACTIONS
    reply: str                       # the bot's reply ("" when a person has the conversation)
    intent: str                      # the intent acted on (a quick-reply click overrides the model)
    quick_replies: list[str] = field(default_factory=list)
    handoff_reason: str | None = None

    @property
    def handoff(self) -> bool:
        return self.action in ("handoff", "triage")


def pick(options: tuple[str, ...], text: str) -> str:
    """A reply chosen by the message's hash: varied across messages, stable for the same message (testable)."""
    return options[zlib.crc32(text.encode("utf-8")) % len(options)]


class DialoguePolicy:
    def __init__(self, catalogue: Catalogue, config: PolicyConfig | None = None):
        self.catalogue = catalogue
        self.config = config or PolicyConfig()
        # quick-reply buttons send an intent's title: map titles (and names) back to intents
        self._by_title = {i.label.casefold(): i.name for i in catalogue.intents.values()}
        self._by_title.update({name.casefold(): name for name in catalogue.intents})

    def decide(self, p: Prediction, state: ConversationState) -> tuple[Decision, ConversationState]:
        cfg, cat = self.config, self.catalogue
        new = dataclasses.replace(state, turns=state.turns + 1, clarifying=[],
                                  frustration=(state.frustration + [p.frustration])[-cfg.trend_turns:],
                                  peak_frustration=max(state.peak_frustration, p.frustration))
        clicked = self._by_title.get(p.text.strip().casefold())
        intent = clicked or p.intent

        def handoff(reason: str, reply: str, action: str = "handoff") -> tuple[Decision, ConversationState]:
            new.handed_off, new.handoff_reason, new.last_intent = True, reason, intent
            return Decision(action, reply, intent, handoff_reason=reason), new

        if state.handed_off:  # a person has it: the bot only acknowledges the first message while they wait
            reply = "" if state.waiting_acknowledged else cfg.waiting_reply
            new.waiting_acknowledged = True
            return Decision("with_agent", reply, intent, handoff_reason=state.handoff_reason), new
        if not clicked and (kind := small_talk(p.text)):   # "thank you so much" is never a business intent
            new.fallbacks_in_row, new.last_intent = 0, kind
            if kind in cat:
                return Decision("answer", pick(cat[kind].replies, p.text), kind,
                                quick_replies=list(cat[kind].quick_replies)), new
            return Decision("answer", SMALL_TALK_REPLIES[kind], kind), new
        alternatives = p.alternatives
        if not clicked and intent in SMALL_TALK_REPLIES:
            # more than small talk ("my card was charged twice. Thanks!"), read as small talk: the question is the
            # point, so the best business intent the model saw answers it (none: not understood)
            alternatives = [(name, c) for name, c in p.alternatives if name not in SMALL_TALK_REPLIES and name != OOS]
            intent = alternatives[0][0] if alternatives else OOS
        if intent in cfg.human_intents:
            return handoff("asked for a person", cat.handoff_reply)
        upset = f"{cfg.frustration_reply} {cat.handoff_reply}"
        if p.frustration >= cfg.frustration_handoff:
            return handoff(f"frustration {p.frustration:.2f}", upset)
        history = new.frustration
        if (len(history) >= 2 and history[-1] - min(history[:-1]) >= cfg.frustration_rise
                and history[-1] >= cfg.frustration_rise_floor):
            return handoff(f"frustration rising ({min(history[:-1]):.2f} -> {history[-1]:.2f})", upset)
        if intent == OOS:
            new.fallbacks_in_row = state.fallbacks_in_row + 1
            if new.fallbacks_in_row >= cfg.max_fallbacks:
                return handoff(f"{new.fallbacks_in_row} messages in a row not understood", cat.handoff_reply)
            return Decision("fallback", pick(cat.fallback_replies, p.text), intent), new
        new.fallbacks_in_row = 0
        new.last_intent = intent
        (first, c1), (second, c2) = (list(alternatives) + [("", 0.0), ("", 0.0)])[:2]
        if (not clicked and c1 < cfg.clarify_below and c1 - c2 < cfg.clarify_margin
                and first in cat and second in cat):
            new.clarifying = [first, second]
            return Decision("clarify", "Just to be sure, which of these is it?", intent,
                            quick_replies=[cat[first].label, cat[second].label]), new
        if intent not in cat:  # the model knows it, the catalogue has no answer: the agents' queue, with the label
            return handoff(f"no answer in the catalogue for {intent}",
                           f"I've passed your question ({intent.replace('_', ' ')}) to our support team; "
                           "someone will reply here shortly.", action="triage")
        entry = cat[intent]
        if entry.handoff:
            return handoff(f"{intent} is handled by people", f"{pick(entry.replies, p.text)} {cat.handoff_reply}")
        return Decision("answer", pick(entry.replies, p.text), intent, quick_replies=list(entry.quick_replies)), new
