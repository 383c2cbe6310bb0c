"""`Helpline`: one customer turn end to end. Redact, classify, decide, score for triage, store, reply.

The turn is committed to the store before the reply is returned: a message the customer saw acknowledged is
never lost. Classification runs outside the transaction, so a slow model never holds a database lock.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from bot.conversation.policy import DialoguePolicy
from bot.conversation.state import OPEN, ConversationState, Status
from bot.conversation.triage import turn_priority
from bot.model.batching import MicroBatcher
from bot.model.mood import MoodHead, context_of, in_context
from bot.model.prediction import OOS, Prediction
from bot.redact import redact
from bot.store.conversations import Store
from intents import Catalogue

MAX_MESSAGE_CHARS = 2000
SHOWN_EMOTIONS = 3
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_-]{8,36}")
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,64}")


class MessageModel(Protocol):
    """What a turn needs of the model: `HelplineModel` is one; tests pass a stub that reads keywords."""
    version: str
    intent_labels: list[str]
    mood: MoodHead | None   # reads frustration and sentiment in the conversation's context, where the model has one

    def predict(self, texts: str | list[str]) -> Prediction | list[Prediction]: ...


@dataclass
class Turn:
    conversation_id: str
    message_id: int
    reply: str
    action: str
    intent: str
    confidence: float
    emotions: dict[str, float]          # the emotions detected (over their thresholds), strongest first
    sentiment: str
    frustration: float
    handoff: bool
    priority: float
    priority_reason: str
    quick_replies: list[str] = field(default_factory=list)
    reply_message_id: int | None = None
    handoff_reason: str | None = None
    ask_csat: bool = False              # the customer said they are done: ask "How did we do?"

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict) -> Turn:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not text; PostgreSQL refuses NUL


def check_message(text) -> str:
    if not isinstance(text, str):
        raise ValueError(f"message must be a string, not {type(text).__name__}")
    text = CONTROL_CHARACTERS.sub("", text).strip()
    if not text:
        raise ValueError("message is empty: type something first")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValueError(f"message is {len(text)} characters long; the limit is {MAX_MESSAGE_CHARS}")
    return text


def check_optional(value, pattern: re.Pattern, problem: str) -> str | None:
    """An optional identifier from a client: None, or a string the pattern matches whole (ValueError)."""
    if value is not None and (not isinstance(value, str) or not pattern.fullmatch(value)):
        raise ValueError(problem)
    return value


class Helpline:
    def __init__(self, classifier: MessageModel, catalogue: Catalogue, store: Store,
                 policy: DialoguePolicy | None = None):
        self._suggestions = None   # the console's suggested replies, built on first use
        self.swap_classifier(classifier)
        self.store = store
        self._dialogue = catalogue, policy or DialoguePolicy(catalogue)

    @classmethod
    def from_settings(cls, settings) -> Helpline:
        """The serving stack for a deployment's settings (model directory, catalogue, policy, database)."""
        from bot.conversation.policy import PolicyConfig
        from bot.registry.versions import resolve_model_dir
        from intents import load_catalogue

        catalogue = load_catalogue(settings.catalogue)
        return cls(settings.load_classifier(resolve_model_dir(settings.model_dir)), catalogue,
                   Store(settings.db, secret=settings.secret),
                   DialoguePolicy(catalogue, PolicyConfig.load(settings.policy)))

    def reload_catalogue(self, path) -> None:
        """Serve an edited catalogue (e.g. after adding a discovered intent) from the next turn on."""
        from intents import load_catalogue

        catalogue = load_catalogue(path)
        # one assignment: a turn reads the pair once, so it never sees the new catalogue with the old policy
        self._dialogue = catalogue, DialoguePolicy(catalogue, self.policy.config)

    @property
    def catalogue(self) -> Catalogue:
        return self._dialogue[0]

    @property
    def policy(self) -> DialoguePolicy:
        return self._dialogue[1]

    @property
    def classifier(self) -> MessageModel:
        return self._serving[0]

    def swap_classifier(self, classifier: MessageModel) -> None:
        """Serve a new model from the next turn on; turns in flight finish on the one they started with (each
        turn reads the reference once, and rebinding it is atomic). Each model gets its own batcher, so a batch
        never mixes two models."""
        self._serving = classifier, MicroBatcher(classifier.predict)
        if self._suggestions is not None:
            self._suggestions.refresh()   # its contexts were embedded by the old encoder

    def catalogue_fit(self):
        """How much of the model's intents the catalogue answers (bot/conversation/catalogue_fit.py)."""
        from bot.conversation.catalogue_fit import catalogue_fit

        return catalogue_fit(self.classifier.intent_labels, self.catalogue)

    @property
    def desk(self):
        """What agents do to conversations (bot/conversation/desk.py), for the REST API and the console alike."""
        from bot.conversation.desk import AgentDesk

        return AgentDesk(self)

    @property
    def suggestions(self):
        """Suggested replies for the agents' console (bot/assist/live.py), built on first use."""
        if self._suggestions is None:
            from bot.assist.live import LiveSuggestions, imported_transcripts

            self._suggestions = LiveSuggestions(self, imported_transcripts())
        return self._suggestions

    @staticmethod
    def intent_priority(catalogue: Catalogue, intent: str) -> str:
        return catalogue[intent].priority if intent in catalogue else ("low" if intent == OOS else "normal")

    def handle(self, text: str, conversation_id: str | None = None, channel: str = "chat", *,
               source: str | None = None, idempotency_key: str | None = None) -> Turn:
        """One customer turn. ``conversation_id``: None starts a conversation (ids are made here only).
        ``source``: who sent it (a hash of the address, for flood flagging). ``idempotency_key``: a
        resend with the same key gets the first reply back instead of storing the turn twice."""
        text = redact(check_message(text))  # PII never reaches the model, the database or a log
        conversation_id = check_optional(conversation_id, CONVERSATION_ID, "conversation_id must be 8-36 letters, "
                                         "digits, '-' or '_' (or leave it out to start one)")
        key = check_optional(idempotency_key, IDEMPOTENCY_KEY, "Idempotency-Key must be 8-64 letters, digits or "
                                                               "'-_.:' (a new UUID for each message)")
        message_hash = hashlib.sha256(f"{conversation_id}\n{text}".encode()).hexdigest() if key else ""
        # a key is the sender's own: the same key from another sender is another turn, never their reply
        key = hashlib.sha256(f"{source or ''}\n{key}".encode()).hexdigest() if key else None

        def answered() -> Turn | None:
            """The reply already stored under this key, if any."""
            done = self.store.find_receipt(key, message_hash) if key else None
            return None if done is None else Turn.from_dict(done)

        if (turn := answered()) is not None:
            return turn
        try:
            return self._turn(text, conversation_id, channel, source, key, message_hash)
        except IntegrityError:  # the same key raced in from another request and won: its reply is ours
            if (turn := answered()) is not None:
                return turn
            raise

    def _turn(self, text: str, conversation_id: str | None, channel: str, source: str | None, key: str | None,
              message_hash: str) -> Turn:
        classifier, classify = self._serving  # concurrent turns' messages go to the model as one batch
        catalogue, policy = self._dialogue
        prediction: Prediction = classify(text)
        with self.store.turn(conversation_id, channel, source) as conversation:
            # frustration and sentiment read in the conversation's context, as `python -m bot analyze` reads them
            mood = classifier.mood
            history = context_of(conversation.history()) if mood is not None else None   # a read saved
            prediction, mood_score = in_context(mood, prediction, history, conversation.now.timestamp())
            state = ConversationState.from_dict(conversation.state)
            decision, state = policy.decide(prediction, state)
            priority, level = turn_priority(prediction, self.intent_priority(catalogue, decision.intent),
                                            state.frustration, state.handoff_reason if state.handed_off else None,
                                            state.priority_level)
            status, waiting_since = conversation.status, conversation.waiting_since
            if state.handed_off:
                if status not in OPEN or waiting_since is None:
                    waiting_since = conversation.now
                if status != Status.AGENT:  # with a person already, it stays with them
                    status = Status.WAITING.value
            elif status == Status.RESOLVED:
                status = Status.BOT.value
            details = {"alternatives": prediction.alternatives, "emotions": prediction.emotions,
                       "detected_emotions": prediction.detected_emotions, "action": decision.action,
                       "model_intent": prediction.intent, "mood_score": round(mood_score, 4)}
            messages = [dict(role="customer", text=text, intent=decision.intent, confidence=prediction.confidence,
                             sentiment=prediction.sentiment, frustration=prediction.frustration, prediction=details,
                             model_version=classifier.version)]
            messages += [dict(role="bot", text=decision.reply)] if decision.reply else []
            ids = conversation.write(messages, decision.handoff_reason if decision.handoff else None,
                                     state=dataclasses.replace(state, priority_level=level).to_dict(),
                                     last_intent=decision.intent,
                                     priority=priority.score, priority_reason=priority.reason, status=status,
                                     waiting_since=waiting_since)
            # the strongest few: on support messages (far from GoEmotions' Reddit comments) many labels pass
            # their F1-tuned thresholds at moderate scores, and a list of 15 tells an agent nothing
            emotions = {label: prediction.emotions[label] for label in prediction.detected_emotions[:SHOWN_EMOTIONS]}
            turn = Turn(conversation_id=conversation.id, message_id=ids[0], reply=decision.reply,
                        action=decision.action, intent=decision.intent, confidence=prediction.confidence,
                        emotions=emotions, sentiment=prediction.sentiment, frustration=prediction.frustration,
                        handoff=state.handed_off, priority=priority.score, priority_reason=priority.reason,
                        quick_replies=decision.quick_replies, reply_message_id=ids[1] if len(ids) > 1 else None,
                        handoff_reason=state.handoff_reason,
                        ask_csat=decision.intent in catalogue and catalogue[decision.intent].ends_conversation)
            if key:
                conversation.receipt(key, message_hash, turn.to_dict())
        return turn
