"""How sure a comparison is: paired bootstrap intervals for "Helpline minus a baseline" on the same messages.

One standard error of an accuracy on ~1,000 messages is ~0.75 points, as large as most differences we chase,
so every Helpline row of the accuracy table also gets the difference to each baseline with a 95% interval.
The methods are scored on the same messages, so the messages are resampled together (a paired bootstrap):
the interval is that of the difference, much narrower than the two methods' own intervals side by side.
Resampling is done with count weights (one matrix product per metric), so 2,000 resamples take milliseconds.
"""
from __future__ import annotations

import numpy as np

from bot.model.prediction import OOS

RESAMPLES = 2000


def resample_weights(n: int, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """How often each of ``n`` messages is drawn in each resample (resamples x n)."""
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)


def intent_scores(truth: list[str], predicted: list[str], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy (and in-scope accuracy / OOS recall where there are oos rows) under each resample."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    correct = (truth == predicted).astype(np.float64)

    def share(rows: np.ndarray) -> np.ndarray:
        drawn = weights[:, rows].sum(1)
        return (weights[:, rows] @ correct[rows]) / np.where(drawn > 0, drawn, 1.0)

    scores = {"intent_accuracy": share(np.arange(len(truth)))}
    if (truth == OOS).any():
        scores["in_scope_accuracy"] = share(np.flatnonzero(truth != OOS))
        scores["oos_recall"] = share(np.flatnonzero(truth == OOS))
    return scores


def emotion_scores(truth: np.ndarray, predicted: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Macro- and micro-F1 of 0/1 label matrices (rows x labels) under each resample."""
    truth, predicted = np.asarray(truth, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    tp, fp, fn = (weights @ (truth * predicted), weights @ ((1 - truth) * predicted),
                  weights @ (truth * (1 - predicted)))
    denominator = 2 * tp + fp + fn
    per_label = np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1.0), 0.0)
    micro_den = denominator.sum(1)
    return {"emotion_macro_f1": per_label.mean(1),
            "emotion_micro_f1": 2 * tp.sum(1) / np.where(micro_den > 0, micro_den, 1.0)}


def interval(ours: np.ndarray, theirs: np.ndarray, point: float) -> dict:
    """The point difference and the 95% percentile interval of the resampled differences."""
    low, high = np.percentile(ours - theirs, [2.5, 97.5])
    return {"difference": round(float(point), 4), "ci95": [round(float(low), 4), round(float(high), 4)]}


def compare(task_kind: str, truth, predictions: dict[str, object], ours: str = "helpline") -> dict[str, dict]:
    """For each other method: {metric: {"difference", "ci95"}} of ``ours`` minus it, on the same messages."""
    score = intent_scores if task_kind == "intent" else emotion_scores
    everything_once = np.ones((1, len(truth)))  # the sample itself: the reported metrics
    weights = resample_weights(len(truth))
    full = {method: score(truth, pred, everything_once) for method, pred in predictions.items()}
    resampled = {method: score(truth, pred, weights) for method, pred in predictions.items()}
    out = {}
    for method in predictions:
        if method == ours:
            continue
        out[method] = {metric: interval(values, resampled[method][metric],
                                         full[ours][metric][0] - full[method][metric][0])
                       for metric, values in resampled[ours].items()}
    return out
