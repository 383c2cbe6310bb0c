"""A conversation's dialogue state and how it moves: the one place that knows their shape. The policy reads and
updates the state each turn; an agent's reply, take-over or resolve moves it here (`after_*`), and the store saves
the result. `Status` lives with the tables (bot/store/schema.py) and is re-exported here."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from bot.store.schema import OPEN, Change, Status

__all__ = ["OPEN", "TAKEN_OVER", "Change", "ConversationState", "Status", "after_agent_reply", "after_resolve",
           "after_take_over"]

TAKEN_OVER = "taken over by an agent"


@dataclass
class ConversationState:
    """What the policy remembers between turns; stored with the conversation as JSON."""
    turns: int = 0
    last_intent: str | None = None
    fallbacks_in_row: int = 0
    frustration: list[float] = field(default_factory=list)   # the last `trend_turns` customer messages
    peak_frustration: float = 0.0                            # the highest in the conversation: its satisfaction risk
    clarifying: list[str] = field(default_factory=list)      # intents offered as quick replies last turn
    handed_off: bool = False
    handoff_reason: str | None = None
    waiting_acknowledged: bool = False
    priority_level: str | None = None                        # the highest triage level seen (bot.conversation.triage)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> ConversationState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    def with_person(self, reason: str | None = None) -> ConversationState:
        """A person has the conversation: the bot stays out of it (the first reason given is kept)."""
        return dataclasses.replace(self, handed_off=True, handoff_reason=self.handoff_reason or reason)

    @property
    def satisfaction_risk(self) -> float:
        """How likely the customer leaves unhappy, read as the highest in-context frustration so far: an upset
        moment is what a low rating remembers (compared with given CSAT on the Insights tab)."""
        return self.peak_frustration

    def reopened(self) -> ConversationState:
        """Resolved: the next message starts afresh with the bot."""
        return dataclasses.replace(self, handed_off=False, handoff_reason=None, waiting_acknowledged=False,
                                   fallbacks_in_row=0)


# What an agent's action does to a conversation (bot/conversation/desk.py asks, the store saves the Change under the
# conversation's lock, given the status and state it holds then).
def after_agent_reply(status: str, state: dict) -> Change:
    """A person replied: the conversation is theirs, and the bot stays out of it."""
    return Change(Status.AGENT.value, ConversationState.from_dict(state).with_person().to_dict())


def after_take_over(status: str, state: dict) -> Change:
    """A person took the conversation before the bot handed it off: that counts as a handoff of its own."""
    current = ConversationState.from_dict(state)
    return Change(Status.AGENT.value, current.with_person(TAKEN_OVER).to_dict(),
                  handoff_reason=None if current.handed_off else TAKEN_OVER, stops_waiting=False)


def after_resolve(status: str, state: dict) -> Change:
    """Closed: its handoffs are resolved and the next message starts afresh with the bot."""
    return Change(Status.RESOLVED.value, ConversationState.from_dict(state).reopened().to_dict(),
                  resolve_handoffs=True)
