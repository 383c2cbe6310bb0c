"""A conversation's status and the dialogue state kept with it: the one place that knows their shape. The
policy reads and updates the state each turn; the store changes it when a person steps in or resolves."""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field


class Status(str, enum.Enum):
    """Where a conversation is (stored as the value)."""
    BOT = "bot"            # the bot answers
    WAITING = "waiting"    # handed off, waiting for a person
    AGENT = "agent"        # a person has it
    RESOLVED = "resolved"  # closed; the next message starts afresh with the bot


OPEN = (Status.WAITING.value, Status.AGENT.value)  # statuses in the agents' queue
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
