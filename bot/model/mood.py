"""The mood head: frustration and sentiment read in the context of the conversation so far.

GoEmotions is Reddit; support customers are upset differently ("still no refund", "third time I'm asking", a
bare "??" after a useless answer), and much of it only shows in the conversation: the same request again, a reply
that did not help, a long wait. The head reads three things, none of which costs a second encoder pass:
  1. the message's emotion probabilities (the encoder's emotion head, already computed for the message),
  2. a lexical upset model (TF-IDF n-grams, the same machinery as the intent lexical head) trained on GoEmotions
     and on the support conversations in finetune/support_moods/,
  3. features of the conversation so far (`MoodContext`), from earlier turns only, never later ones.
Two logistic regressions turn them into a score: a message-level one (1 + 2), then an in-context one that adds
what came before, including the message-level scores of earlier customer messages. Sentiment follows from it:
a customer whose in-context frustration passes `negative_cut` reads negative.

Stored in the model directory as mood/ (format_version 1): lexical.npz and mood.json (feature names, weights,
cut). A model without it scores frustration from the emotion probabilities alone (bot.model.emotions).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bot.model.lexical import LexicalHead
from bot.model.prediction import OOS, Prediction

MOOD_DIR = "mood"
MOOD_FORMAT_VERSION = 1
UPSET = ("anger", "annoyance", "disappointment", "disgust")   # what "upset with us" means: frustrated,
# angry or disappointed; not disapproval, which GoEmotions gives to a plain disagreement ("No.")
CALM_FAMILY = ("fear", "nervousness", "sadness", "grief", "remorse", "embarrassment")  # negative, not at us
CLEARLY_SAD = 0.8   # a fear/sadness-family probability that reads negative without frustration

# words customers use when a problem drags on or the service fails them
ESCALATION = re.compile(r"\b(again|still|already|(second|third|fourth|fifth) time|twice|three times|so many times|"
                        r"manager|supervisor|human|real person|ridiculous|useless|unacceptable|worst|joke|"
                        r"nobody|no one|finally|seriously|waste|waiting|weeks|forget it|pathetic|"
                        r"never again|rubbish|garbage|terrible|awful|horrible)\b|\?\?|!!", re.IGNORECASE)
# a reply that did not help: the bot did not understand, or the answer is a no
UNHELPFUL = re.compile(r"(didn't understand|did not understand|rephrase|not sure what you mean|unfortunately|"
                       r"not available|cannot|can't|unable|no longer)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9']{3,}")
WINDOW = 20   # earlier customer messages a message is compared with (serving reads about as many from the store)

MESSAGE_FEATURES = ("lexical_upset", "emotion_frustration", "upset_emotion", "positive_emotion", "neutral_emotion",
                    "escalation_words", "shouting", "punctuation_only")
CONTEXT_FEATURES = ("message_score", "previous_score", "max_previous_score", "repeated_intent", "repeated_words",
                    "after_unhelpful_reply", "again_without_reply", "earlier_messages", "minutes_waited")


@dataclass
class MoodContext:
    """What the mood head knows of a conversation before a customer message (earlier turns only)."""
    texts: list[str] = field(default_factory=list)       # earlier customer messages
    intents: list[str] = field(default_factory=list)     # their intents
    scores: list[float] = field(default_factory=list)    # their message-level upset scores
    last_reply: str | None = None                        # the latest agent/bot reply since the last customer message
    last_time: float | None = None                       # unix time of the latest turn, when known

    def add_reply(self, text: str, time: float | None = None) -> None:
        self.last_reply = text
        self.last_time = time if time is not None else self.last_time

    def add_customer(self, text: str, intent: str, score: float, time: float | None = None) -> None:
        self.texts.append(text)
        self.intents.append(intent)
        self.scores.append(score)
        self.last_reply = None
        self.last_time = time if time is not None else self.last_time


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def message_features(prediction: Prediction, lexical_upset: float, groups: dict[str, list[str]]) -> list[float]:
    text, emotions = prediction.text, prediction.emotions
    letters = [c for c in text if c.isalpha()]
    shouting = sum(c.isupper() for c in letters) / len(letters) if len(letters) >= 6 else 0.0
    return [_logit(lexical_upset), prediction.frustration,
            max((emotions.get(e, 0.0) for e in UPSET), default=0.0),
            max((emotions.get(e, 0.0) for e in groups.get("positive", [])), default=0.0),
            emotions.get("neutral", 0.0),
            min(len(ESCALATION.findall(text)), 3) / 3,
            float(shouting > 0.6),
            float(not any(c.isalnum() for c in text))]


def context_features(message_score: float, prediction: Prediction, context: MoodContext,
                     time: float | None = None) -> list[float]:
    earlier = context.texts
    words = _words(prediction.text)
    # the latest WINDOW only: comparing with every earlier message made a long conversation quadratic
    overlap = max((len(words & _words(t)) / len(words | _words(t)) for t in earlier[-WINDOW:] if words),
                  default=0.0)
    waited = (time - context.last_time) / 60 if time is not None and context.last_time is not None else 0.0
    in_scope = prediction.intent != OOS
    return [_logit(message_score), _logit(context.scores[-1]) if context.scores else -3.0,
            _logit(max(context.scores)) if context.scores else -3.0,
            float(in_scope and prediction.intent in context.intents),
            overlap,
            float(bool(context.last_reply and UNHELPFUL.search(context.last_reply))),
            float(bool(earlier) and context.last_reply is None),
            math.log1p(len(earlier)),
            math.log1p(max(waited, 0.0))]


@dataclass
class MoodHead:
    lexical: LexicalHead                     # labels ["calm", "upset"]
    message_weights: np.ndarray              # len(MESSAGE_FEATURES) + 1 (the intercept last)
    context_weights: np.ndarray              # len(CONTEXT_FEATURES) + 1
    negative_cut: float                      # in-context frustration from which sentiment reads negative
    sentiment_groups: dict[str, list[str]]
    info: dict = field(default_factory=dict)  # how it was fitted (data, scores), for the model card

    @staticmethod
    def _apply(weights: np.ndarray, features: list[float]) -> float:
        z = float(np.dot(weights[:-1], features) + weights[-1])
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def lexical_upset(self, texts: list[str]) -> np.ndarray:
        """The lexical model's upset probability of each text (one call for many: the batch path's way)."""
        return self.lexical.probabilities(texts)[:, 1] if texts else np.zeros(0)

    def message_score(self, prediction: Prediction, upset: float | None = None) -> float:
        """``upset``: the text's lexical upset probability when it was computed already (with others)."""
        upset = float(self.lexical_upset([prediction.text])[0]) if upset is None else float(upset)
        return self._apply(self.message_weights, message_features(prediction, upset, self.sentiment_groups))

    def read(self, prediction: Prediction, context: MoodContext, time: float | None = None,
             upset: float | None = None) -> tuple[float, float]:
        """(message-level score, in-context frustration) of one customer message."""
        score = self.message_score(prediction, upset)
        return score, self._apply(self.context_weights, context_features(score, prediction, context, time))

    def sentiment(self, prediction: Prediction, frustration: float) -> str:
        """Negative when the customer reads upset in context, or clearly afraid or sad (a strong fear/sadness
        family probability: the emotion head gives many labels middling scores on calm support messages, so its own
        sentiment group would call them negative); otherwise the emotion head's positive/ambiguous, or neutral."""
        if frustration >= self.negative_cut:
            return "negative"
        if max((prediction.emotions.get(e, 0.0) for e in CALM_FAMILY), default=0.0) >= CLEARLY_SAD:
            return "negative"
        return "neutral" if prediction.sentiment == "negative" else prediction.sentiment

    def save(self, directory: Path) -> None:
        folder = Path(directory) / MOOD_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.lexical.save(folder)
        (folder / "mood.json").write_text(json.dumps({
            "format_version": MOOD_FORMAT_VERSION, "message_features": list(MESSAGE_FEATURES),
            "context_features": list(CONTEXT_FEATURES), "message_weights": self.message_weights.tolist(),
            "context_weights": self.context_weights.tolist(), "negative_cut": self.negative_cut,
            "sentiment_groups": self.sentiment_groups, "info": self.info}, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> MoodHead | None:
        """The model directory's mood head, or None when it has none (older models)."""
        folder = Path(directory) / MOOD_DIR
        if not (folder / "mood.json").is_file():
            return None
        meta = json.loads((folder / "mood.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != MOOD_FORMAT_VERSION:
            raise ValueError(f"{folder / 'mood.json'}: unsupported format_version {meta.get('format_version')}; "
                             "refit it with `python -m finetune mood --model DIR`")
        if meta["message_features"] != list(MESSAGE_FEATURES) or meta["context_features"] != list(CONTEXT_FEATURES):
            raise ValueError(f"{folder / 'mood.json'} was fitted on other features; refit it with "
                             "`python -m finetune mood --model DIR`")
        return cls(LexicalHead.load(folder), np.asarray(meta["message_weights"]), np.asarray(meta["context_weights"]),
                   float(meta["negative_cut"]), meta["sentiment_groups"], meta.get("info", {}))


def in_context(head: MoodHead | None, prediction: Prediction, context: MoodContext | None,
               time: float | None = None, upset: float | None = None) -> tuple[Prediction, float]:
    """The prediction with frustration and sentiment read in context, and its message-level score (what the
    context of later messages remembers of it). Without a mood head, the emotion-only reading stands."""
    if head is None:
        return prediction, prediction.frustration
    score, frustration = head.read(prediction, context, time, upset)
    frustration = round(frustration, 4)
    return replace(prediction, frustration=frustration, sentiment=head.sentiment(prediction, frustration)), score


def customer_turns(turns: list[dict], context: MoodContext) -> Iterator[tuple[int, dict, float | None]]:
    """Walk a conversation's turns ({"role", "text", "time"?}) in order, adding the replies to ``context``, and
    yield (index, turn, time) for each customer message, with ``context`` holding everything before it; the
    caller adds that message (`context.add_customer`) once it has its score. The one walk that serving
    (`read_conversations`, `context_of`) and fitting (finetune/mood_fit.py) share."""
    for index, turn in enumerate(turns):
        time = turn.get("time") if isinstance(turn.get("time"), (int, float)) else None
        if turn["role"] != "customer":
            context.add_reply(turn["text"], time)
        elif turn["text"].strip():
            yield index, turn, time


def read_conversations(predict, head: MoodHead | None, conversations: list[list[dict]],
                       batch_size: int = 64) -> list[list[tuple[int, Prediction, float]]]:
    """Every customer message of each conversation (a list of {"role", "text", "time"?} turns), read in the
    context of the turns before it: [(index in the conversation, Prediction, message-level score), ...] per
    conversation. ``predict`` is a model's predict (a list of texts in, Predictions out): one encoder pass per
    customer message, batched across the conversations."""
    texts = [turn["text"] for turns in conversations for turn in turns
             if turn["role"] == "customer" and turn["text"].strip()]
    predictions = iter(predict(texts, batch_size=batch_size) if texts else [])
    upsets = iter(head.lexical_upset(texts) if head is not None else [None] * len(texts))
    out = []
    for turns in conversations:
        context, read = MoodContext(), []
        for index, turn, time in customer_turns(turns, context):
            prediction, score = in_context(head, next(predictions), context, time, next(upsets))
            read.append((index, prediction, score))
            context.add_customer(turn["text"], prediction.intent, score, time)
        out.append(read)
    return out


def context_of(turns: list[dict]) -> MoodContext:
    """The context stored turns give the next customer message (as `ConversationTurn.history` returns them:
    customer turns carry the "intent" and "mood_score" read when they arrived)."""
    context = MoodContext()
    for _, turn, time in customer_turns(turns, context):
        context.add_customer(turn["text"], turn.get("intent") or OOS, float(turn.get("mood_score") or 0.0), time)
    return context
