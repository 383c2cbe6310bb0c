"""Turning the two heads' probabilities into a typed prediction: intent (or out of scope) and emotions."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property

import numpy as np

from bot.model.emotions import FRUSTRATION_WEIGHTS, SENTIMENT_GROUPS, frustration_of, sentiment_of
from intents import OOS  # the label for messages that fit no intent


@dataclass
class Prediction:
    text: str
    intent: str                       # an intent name, or "oos" when the message fits none
    confidence: float                 # probability of `intent`; for "oos": 1 - the best in-scope probability
    alternatives: list[tuple[str, float]] = field(default_factory=list)  # best in-scope intents, best first
    emotions: dict[str, float] = field(default_factory=dict)  # every emotion label's probability
    detected_emotions: list[str] = field(default_factory=list)  # labels over their tuned thresholds
    sentiment: str = "neutral"        # positive / negative / ambiguous / neutral
    frustration: float = 0.0          # [0, 1], see bot.model.emotions.FRUSTRATION_WEIGHTS

    @property
    def out_of_scope(self) -> bool:
        return self.intent == OOS

    @property
    def top_emotion(self) -> str:
        return max(self.emotions, key=self.emotions.get) if self.emotions else "neutral"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["alternatives"] = [{"intent": i, "confidence": c} for i, c in self.alternatives]
        return data

    def summary(self) -> dict:
        """What the API and the command line show of a prediction: the detected emotions only."""
        return {"intent": self.intent, "confidence": self.confidence,
                "alternatives": [{"intent": i, "confidence": c} for i, c in self.alternatives],
                "emotions": {e: self.emotions[e] for e in self.detected_emotions}, "sentiment": self.sentiment,
                "frustration": self.frustration}


@dataclass(frozen=True)
class Decoder:
    """Everything besides the network that decides a prediction; it is stored in the model's metadata."""
    intent_labels: list[str]
    emotion_labels: list[str]
    oos_threshold: float = 0.0
    oos_score_threshold: float | None = None   # with an OOS detector (bot/model/oos.py): its score's cut
    emotion_thresholds: dict[str, float] | None = None
    sentiment_groups: dict[str, list[str]] | None = None
    frustration_weights: dict[str, float] | None = None
    n_alternatives: int = 3

    @classmethod
    def from_metadata(cls, metadata: dict) -> Decoder:
        return cls(**{f.name: metadata[f.name] for f in fields(cls) if f.name in metadata})

    @cached_property
    def _in_scope(self) -> np.ndarray:
        """Indices of the in-scope intents (every label but an explicit ``oos`` class), computed once."""
        return np.asarray([i for i, label in enumerate(self.intent_labels) if label != OOS], dtype=np.int64)

    def intent_decision(self, probs: np.ndarray,
                        oos_score: float | None = None) -> tuple[str, float, list[tuple[str, float]]]:
        """(intent, confidence, alternatives) for one row of intent probabilities. With the model's OOS detector
        score and its threshold the message is out of scope when the score reaches the threshold; without, when
        the best in-scope probability is below ``oos_threshold``. An explicit OOS class that wins outright is
        out of scope either way."""
        ranked = self._in_scope[np.argsort(-probs[self._in_scope], kind="stable")]
        best = ranked[0]
        alternatives = [(self.intent_labels[i], round(float(probs[i]), 4)) for i in ranked[: self.n_alternatives]]
        top_is_oos = self.intent_labels[int(np.argmax(probs))] == OOS
        if oos_score is not None and self.oos_score_threshold is not None:
            unknown = oos_score >= self.oos_score_threshold
        else:
            unknown = probs[best] < self.oos_threshold
        if top_is_oos or unknown:
            return OOS, round(1.0 - float(probs[best]), 4), alternatives
        return self.intent_labels[best], round(float(probs[best]), 4), alternatives

    def decode(self, text: str, intent_probs: np.ndarray, emotion_probs: np.ndarray,
               oos_score: float | None = None) -> Prediction:
        intent, confidence, alternatives = self.intent_decision(intent_probs, oos_score)
        emotions = {label: round(float(p), 4) for label, p in zip(self.emotion_labels, emotion_probs)}
        thresholds = self.emotion_thresholds or {}
        detected = sorted((label for label, p in emotions.items() if p >= thresholds.get(label, 0.5)),
                          key=lambda label: -emotions[label])
        return Prediction(text=text, intent=intent, confidence=confidence, alternatives=alternatives,
                          emotions=emotions, detected_emotions=detected,
                          sentiment=sentiment_of(emotions, self.sentiment_groups or SENTIMENT_GROUPS),
                          frustration=frustration_of(emotions, self.frustration_weights or FRUSTRATION_WEIGHTS))


def check_texts(texts) -> tuple[list[str], bool]:
    """(the texts as a list, whether one string was given); a clear ValueError for anything else."""
    single = isinstance(texts, str)
    batch = [texts] if single else texts
    if not isinstance(batch, (list, tuple)):
        raise ValueError(f"predict takes a string or a list of strings, not {type(texts).__name__}")
    for i, text in enumerate(batch):
        if not isinstance(text, str):
            raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise ValueError(f"text {i} is empty; give a non-empty message")
    return list(batch), single


# texts -> (intent probs, emotion probs, sentence vectors)
Heads = Callable[[list[str]], tuple[np.ndarray, np.ndarray, np.ndarray]]


def batched(run, items: list, batch_size: int, length=len) -> tuple[np.ndarray, ...]:
    """Run the heads over items (texts, or encodings with ``length`` counting tokens) in batches of similar
    length (less padding), returning each of their outputs with rows in input order."""
    order = sorted(range(len(items)), key=lambda i: length(items[i]))
    outputs: list[np.ndarray] = []
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        results = run([items[i] for i in idx])
        if not outputs:
            outputs = [np.zeros((len(items),) + r.shape[1:], dtype=r.dtype) for r in results]
        for out, result in zip(outputs, results):
            out[idx] = result
    return tuple(outputs)


@dataclass
class ModelOutputs:
    """What one encoder pass gives a list of texts: intent probabilities (with the lexical head blended in),
    emotion probabilities, out-of-scope scores (None without an OOS detector) and the sentence vectors."""
    intent: np.ndarray
    emotion: np.ndarray
    oos: np.ndarray | None = None
    sentence: np.ndarray | None = None

    @classmethod
    def of(cls, raw: tuple[np.ndarray, ...], texts: list[str], lexical_head, metadata: dict,
           detector) -> ModelOutputs:
        """From the heads' raw (intent, emotion, sentence vectors) of ``texts``."""
        from bot.model import lexical

        if not raw:   # no texts: no batch ran
            return cls(np.zeros((0, len(metadata["intent_labels"])), np.float32),
                       np.zeros((0, len(metadata["emotion_labels"])), np.float32))
        intent, emotion, sentence = raw
        intent = lexical.apply(lexical_head, metadata, texts, intent)
        if detector is None:
            return cls(intent, emotion, None, sentence)
        msp = max_softmax_score(intent, metadata["intent_labels"]) if detector.needs_msp else None
        return cls(intent, emotion, detector.scores(sentence, msp), sentence)


def max_softmax_score(intent: np.ndarray, intent_labels: list[str]) -> np.ndarray:
    """1 - each row's best in-scope probability: the max-softmax out-of-scope score."""
    in_scope = np.asarray([label != OOS for label in intent_labels])
    return 1.0 - np.where(in_scope[None, :], intent, -1.0).max(1)


def predict_texts(texts, outputs, decoder: Decoder, batch_size: int, upset=None):
    """The `predict` of every model class: one text -> a Prediction, a list -> a list in the same order.
    ``outputs``: texts, batch size -> ModelOutputs. ``upset``: the model's upset head (bot/model/upset.py)."""
    batch, single = check_texts(texts)
    predictions = decoded(batch, outputs(batch, batch_size), decoder, upset)
    return predictions[0] if single else predictions


def decoded(texts: list[str], out: ModelOutputs, decoder: Decoder, upset=None) -> list[Prediction]:
    """The Predictions of ``texts`` from their ModelOutputs; with an upset head, its frustration and sentiment
    (without one, the emotion head's)."""
    scores = out.oos if out.oos is not None else [None] * len(texts)
    predictions = [decoder.decode(t, i, e, None if s is None else float(s))
                   for t, i, e, s in zip(texts, out.intent, out.emotion, scores)]
    if upset is None or not predictions:
        return predictions
    return upset.apply(predictions, out.emotion, out.sentence)
