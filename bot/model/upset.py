"""The upset head: how upset a customer is with the company, read from one message, learnt from real customers.

GoEmotions is Reddit: its anger labels miss how customers complain to a company ("3 hours on hold and STILL no
refund", "cancel my account"), and a score fitted on conversations we wrote ourselves read real customers worse
than the emotion head alone. This head is a logistic regression, fitted by finetune/upset_fit.py on real
customer text written to companies (airline tweets, complaints to support accounts, GoEmotions beside them),
over what the message's one encoder pass already gives, so it costs no second pass:
  - the encoder's sentence vector and its 28 emotion probabilities,
  - a lexical upset model (TF-IDF word and character n-grams, bot/model/lexical.py),
  - cues a customer's anger shows in: capitals, "!!!", "???", "again", "still", "third time", "unacceptable",
    "cancel my account".
Its probability is the message's `frustration`; `sentiment` reads negative from `negative_cut`, chosen on
held-out real data so that the share read negative follows the real base rate.

Placeholders carry no feeling: `#EMAIL#`, `[EMAIL]`, `__email__`, `<PERSON>`, `{{name}}`, `XXXX`, @handles,
links and Helpline's own redaction tokens are removed before anything reads the text, and a message with
nothing readable left (only placeholders, numbers or punctuation, or mostly another script) reads neutral.

Stored in the model directory as upset/ (format_version 1): lexical.npz and upset.json (feature names,
standardisation, weights, the cut, what it was trained on).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bot.model.lexical import LexicalHead
from bot.model.placeholders import content_of, readable

UPSET_DIR = "upset"
UPSET_FORMAT_VERSION = 1

# Anger at the company and plain problem words are separate cues: support chats are full of "refund" and
# "waiting" from calm customers, so the regression must be free to weigh them apart.
ESCALATION = re.compile(r"\b(again|still|already|(second|third|fourth|fifth|3rd|4th) time|twice|three times|"
                        r"so many times|every time|unacceptable|ridiculous|useless|worst|terrible|awful|horrible|"
                        r"pathetic|disgusting|joke|waste|never again|cancel (my|the) (account|subscription|order)|"
                        r"complain|complaint|manager|supervisor|nobody|no one|seriously|fed up|sick of)\b",
                        re.IGNORECASE)
PROBLEM = re.compile(r"\b(refund|not working|doesn'?t work|won'?t|can'?t|hours?|days|weeks|waiting|wait|"
                     r"delayed|late|lost|missing|broken|charged)\b", re.IGNORECASE)
CUES = ("shouting", "exclamations", "question_runs", "escalation_words", "problem_words", "words")


def cues(content: str) -> list[float]:
    letters = [c for c in content if c.isalpha()]
    capitals = sum(c.isupper() for c in letters) / len(letters) if len(letters) >= 6 else 0.0
    return [capitals, min(content.count("!"), 6) / 6, min(len(re.findall(r"\?\?|\?!|!\?", content)), 3) / 3,
            min(len(ESCALATION.findall(content)), 4) / 4, min(len(PROBLEM.findall(content)), 4) / 4,
            math.log1p(len(content.split()))]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def raw_features(lexical_upset: np.ndarray, contents: list[str], emotion: np.ndarray,
                 sentence: np.ndarray) -> np.ndarray:
    """One row per message: sentence vector, emotion probabilities, the lexical model's upset logit, the cues."""
    cue_rows = np.asarray([cues(c) for c in contents], dtype=float).reshape(-1, len(CUES))
    return np.hstack([sentence, emotion, _logit(np.asarray(lexical_upset, dtype=float))[:, None], cue_rows])


@dataclass
class UpsetHead:
    lexical: LexicalHead          # labels ["calm", "upset"], fitted on the same texts (their content)
    mean: np.ndarray              # feature standardisation
    scale: np.ndarray
    weights: np.ndarray           # one per feature, the intercept last
    negative_cut: float           # upset probability from which sentiment reads negative
    info: dict = field(default_factory=dict)   # what it was trained and selected on (the model card lists it)

    def features(self, contents: list[str], emotion: np.ndarray, sentence: np.ndarray) -> np.ndarray:
        lexical = self.lexical.probabilities(contents)[:, 1] if contents else np.zeros(0)
        return (raw_features(lexical, contents, emotion, sentence) - self.mean) / self.scale

    def scores(self, texts: list[str], emotion: np.ndarray, sentence: np.ndarray) -> np.ndarray:
        """Each text's upset probability; NaN where there is nothing readable (it then reads neutral)."""
        contents = [content_of(t) for t in texts]
        z = self.features(contents, emotion, sentence) @ self.weights[:-1] + self.weights[-1]
        probs = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        probs[[not readable(c) for c in contents]] = np.nan
        return probs

    def apply(self, predictions: list, emotion: np.ndarray, sentence: np.ndarray) -> list:
        """The predictions with frustration and sentiment read by this head."""
        if sentence.shape[-1] + emotion.shape[-1] + 1 + len(CUES) != len(self.mean):
            raise ValueError("the upset head was fitted on other encoder outputs than this graph gives; re-export "
                             "the model (`python -m finetune export`) or refit the head (`python -m finetune upset`)")
        return [self.read(p, s) for p, s in zip(predictions, self.scores([p.text for p in predictions], emotion,
                                                                          sentence))]

    def read(self, prediction, score: float):
        if math.isnan(score):   # nothing readable: neutral, whatever the emotion head made of it
            return replace(prediction, frustration=0.0, sentiment="neutral")
        if score >= self.negative_cut:
            sentiment = "negative"
        else:   # not upset with us: the emotion head's positive or ambiguous stands, its negative does not
            sentiment = "neutral" if prediction.sentiment == "negative" else prediction.sentiment
        return replace(prediction, frustration=round(float(score), 4), sentiment=sentiment)

    def save(self, directory: Path) -> None:
        folder = Path(directory) / UPSET_DIR
        folder.mkdir(parents=True, exist_ok=True)
        self.lexical.save(folder)
        (folder / "upset.json").write_text(json.dumps({
            "format_version": UPSET_FORMAT_VERSION, "cues": list(CUES), "mean": self.mean.tolist(),
            "scale": self.scale.tolist(), "weights": self.weights.tolist(), "negative_cut": self.negative_cut,
            "info": self.info}, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> UpsetHead | None:
        """The model directory's upset head, or None when it has none."""
        path = Path(directory) / UPSET_DIR / "upset.json"
        if not path.is_file():
            return None
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("format_version") != UPSET_FORMAT_VERSION or meta.get("cues") != list(CUES):
            raise ValueError(f"{path}: made by another Helpline (format_version {meta.get('format_version')}); "
                             "refit it with `python -m finetune upset --model DIR`")
        return cls(LexicalHead.load(path.parent), np.asarray(meta["mean"]), np.asarray(meta["scale"]),
                   np.asarray(meta["weights"]), float(meta["negative_cut"]), meta.get("info", {}))
