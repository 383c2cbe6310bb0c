import numpy as np
import pytest

from bot.model.emotions import GOEMOTIONS_LABELS, frustration_of, sentiment_of
from bot.model.prediction import OOS, Decoder


@pytest.mark.parametrize("scores, expected", [
    ({"neutral": 0.9, "joy": 0.1}, "neutral"),
    ({"neutral": 0.2, "anger": 0.7, "joy": 0.1}, "negative"),
    ({"neutral": 0.3, "gratitude": 0.8}, "positive"),
    ({"neutral": 0.1, "confusion": 0.6, "annoyance": 0.3}, "ambiguous"),
    # many small positive scores do not outweigh one clear negative (max per group, not sum)
    ({"joy": 0.2, "love": 0.2, "optimism": 0.2, "admiration": 0.2, "sadness": 0.4}, "negative"),
])
def test_sentiment_grouping(scores, expected):
    assert sentiment_of(scores) == expected


def test_frustration_is_bounded_and_monotonic():
    assert frustration_of({}) == 0.0
    calm = frustration_of({"anger": 0.1})
    angry = frustration_of({"anger": 0.9})
    furious = frustration_of({"anger": 0.9, "annoyance": 0.9})
    assert 0.0 < calm < angry < furious <= 1.0
    assert frustration_of({"anger": 1.0}) == 1.0
    assert frustration_of({"joy": 1.0}) == 0.0
    # base-rate noise on every anger-family label stays low; one clear signal is high
    assert frustration_of({"anger": 0.1, "annoyance": 0.15, "disgust": 0.1, "disappointment": 0.1,
                           "disapproval": 0.1}) < 0.1
    assert frustration_of({"annoyance": 0.85}) > 0.7
    # disappointment counts less than anger
    assert frustration_of({"disappointment": 0.8}) < frustration_of({"anger": 0.8})


LABELS = ["cancel", "refund", "greeting", OOS]


@pytest.mark.parametrize("probs, threshold, intent", [
    ([0.7, 0.1, 0.1, 0.1], 0.5, "cancel"),
    ([0.4, 0.3, 0.2, 0.1], 0.5, OOS),          # under the threshold
    ([0.2, 0.1, 0.1, 0.6], 0.0, OOS),          # the explicit oos class wins outright
    ([0.1, 0.5, 0.3, 0.1], 0.0, "refund"),
])
def test_intent_decision(probs, threshold, intent):
    decoder = Decoder(intent_labels=LABELS, emotion_labels=[], oos_threshold=threshold)
    got, confidence, alternatives = decoder.intent_decision(np.asarray(probs))
    assert got == intent
    assert OOS not in [a for a, _ in alternatives]
    assert alternatives[0][1] == max(p for p, label in zip(probs, LABELS) if label != OOS)
    assert 0.0 <= confidence <= 1.0


def test_decode_uses_per_label_emotion_thresholds():
    decoder = Decoder(intent_labels=LABELS, emotion_labels=list(GOEMOTIONS_LABELS),
                      emotion_thresholds={label: 0.9 for label in GOEMOTIONS_LABELS} | {"anger": 0.3})
    emotion = np.full(len(GOEMOTIONS_LABELS), 0.5)
    p = decoder.decode("grr", np.asarray([0.9, 0.05, 0.05, 0.0]), emotion)
    assert p.detected_emotions == ["anger"]
    assert set(p.emotions) == set(GOEMOTIONS_LABELS)
    assert p.to_dict()["alternatives"][0] == {"intent": "cancel", "confidence": 0.9}
