"""`explain(classifier, text)`: which words drove the intent and the emotion, by occlusion.

Each word is removed in turn and the message re-scored in one batch; a word's weight is how much the
probability of the predicted intent (and of the strongest emotion) drops without it. Occlusion needs only
forward passes, so it works the same on the ONNX and the torch backend, and one batch of N+1 short texts
costs a few milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.model.prediction import OOS

MAX_WORDS = 48  # longer messages: only the first words are occluded (the model reads 64 tokens anyway)


@dataclass
class Explanation:
    intent: str
    emotion: str
    words: list[str]
    intent_weights: list[float]    # drop in the intent's probability without the word (negative: it hurt)
    emotion_weights: list[float]   # drop in the top emotion's probability without the word

    def top_words(self, n: int = 3, which: str = "intent") -> list[str]:
        weights = self.intent_weights if which == "intent" else self.emotion_weights
        ranked = sorted(range(len(self.words)), key=lambda i: -weights[i])
        return [self.words[i] for i in ranked[:n] if weights[i] > 0]

    def to_dict(self) -> dict:
        return {"intent": self.intent, "emotion": self.emotion,
                "words": [{"word": w, "intent": round(i, 4), "emotion": round(e, 4)}
                          for w, i, e in zip(self.words, self.intent_weights, self.emotion_weights)]}


def explain(classifier, text: str) -> Explanation:
    """Occlusion weights for every word of ``text`` (classifier: a `HelplineModel`)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("explain needs a non-empty message")
    words = text.split()
    shown = words[:MAX_WORDS]
    variants = [text] + [" ".join(words[:i] + words[i + 1:]) or "." for i in range(len(shown))]
    outputs = classifier.outputs(variants)
    intent_probs, emotion_probs = outputs.intent, outputs.emotion
    prediction = classifier.decoder.decode(text, intent_probs[0], emotion_probs[0],
                                           None if outputs.oos is None else float(outputs.oos[0]))
    labels = classifier.decoder.intent_labels
    # For an out-of-scope message, explain its best in-scope guess: which words made it look like that intent.
    intent = prediction.alternatives[0][0] if prediction.intent == OOS else prediction.intent
    i = labels.index(intent)
    emotion = prediction.top_emotion
    e = classifier.decoder.emotion_labels.index(emotion)
    intent_weights = (intent_probs[0, i] - intent_probs[1:, i]).astype(float)
    emotion_weights = (emotion_probs[0, e] - emotion_probs[1:, e]).astype(float)
    return Explanation(prediction.intent, emotion, shown, list(np.round(intent_weights, 4)),
                       list(np.round(emotion_weights, 4)))
