"""Emotion labels and the scores derived from them: sentiment and frustration.

The 28 labels and the sentiment grouping are the published GoEmotions ones (Demszky et al. 2020,
`mappings.json` of the release). A trained model stores the grouping it was trained with in its metadata;
these constants are the defaults for models built without the mapping file.
"""
from __future__ import annotations

GOEMOTIONS_LABELS = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity", "desire",
    "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief",
    "joy", "love", "nervousness", "optimism", "pride", "realization", "relief", "remorse", "sadness",
    "surprise", "neutral",
)

SENTIMENT_GROUPS = {
    "positive": ["amusement", "excitement", "joy", "love", "desire", "optimism", "caring", "pride", "admiration",
                 "gratitude", "relief", "approval"],
    "negative": ["fear", "nervousness", "remorse", "embarrassment", "disappointment", "sadness", "grief",
                 "disgust", "anger", "annoyance", "disapproval"],
    "ambiguous": ["realization", "surprise", "curiosity", "confusion"],
}

# Frustration is the "is this customer getting angry with us" signal used for triage and handoff.
# It combines the anger family with a noisy-OR over squared probabilities: 1 - prod(1 - w * p^2).
# Squaring discounts the small base-rate probabilities (0.05-0.2) that every message gets for every label,
# so a calm message scores near 0 while one clear signal (p = 0.8 -> 0.64) still dominates.
# Anger and annoyance count fully; disappointment and disapproval are weaker signs (a customer can be
# disappointed in a product without being frustrated with the service); disgust is rare but strong.
FRUSTRATION_WEIGHTS = {"anger": 1.0, "annoyance": 1.0, "disgust": 0.8, "disappointment": 0.7,
                       "disapproval": 0.5}

SENTIMENTS = ("positive", "negative", "ambiguous", "neutral")


def sentiment_of(scores: dict[str, float], groups: dict[str, list[str]] = SENTIMENT_GROUPS) -> str:
    """The sentiment group whose strongest label has the highest probability; ``neutral`` competes as itself.

    The max (not the sum) is used so that a group with many labels (12 positive ones) does not win
    just by adding up small probabilities.
    """
    best, best_score = "neutral", scores.get("neutral", 0.0)
    for group, labels in groups.items():
        score = max((scores.get(label, 0.0) for label in labels), default=0.0)
        if score > best_score:
            best, best_score = group, score
    return best


def frustration_of(scores: dict[str, float], weights: dict[str, float] = FRUSTRATION_WEIGHTS) -> float:
    """Frustration in [0, 1] from the anger-family probabilities (noisy-OR, see FRUSTRATION_WEIGHTS)."""
    calm = 1.0
    for label, weight in weights.items():
        calm *= 1.0 - weight * min(max(scores.get(label, 0.0), 0.0), 1.0) ** 2
    return round(1.0 - calm, 4)
