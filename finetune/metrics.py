"""Scores for both heads, shared by training (validation) and `finetune evaluate` (test files).

Accuracy and F1 go through Hugging Face `evaluate` modules, defined here as the Hub's `accuracy` and `f1`
metrics are (scikit-learn underneath), because `evaluate.load("f1")` fetches its script from the Hub at run
time and Helpline must score offline. The per-label tables stay plain scikit-learn.
"""
from __future__ import annotations

from collections import Counter

import datasets
import evaluate
import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from bot.model.prediction import OOS


def _features(config_name: str) -> datasets.Features:
    # "multilabel" rows are 0/1 vectors (the emotion head); otherwise one label string per row (intents)
    value = datasets.Sequence(datasets.Value("int32")) if config_name == "multilabel" else datasets.Value("string")
    return datasets.Features({"predictions": value, "references": value})


class Accuracy(evaluate.Metric):
    """`evaluate`'s accuracy: the fraction of rows predicted exactly."""

    def _info(self):
        return evaluate.MetricInfo(description=self.__doc__, citation="", inputs_description="predictions, references",
                                   features=_features(self.config_name))

    def _compute(self, predictions, references):
        return {"accuracy": float(accuracy_score(references, predictions))}


class F1(evaluate.Metric):
    """`evaluate`'s f1: scikit-learn's f1_score with its `average` and `labels` options."""

    def _info(self):
        return evaluate.MetricInfo(description=self.__doc__, citation="", inputs_description="predictions, references",
                                   features=_features(self.config_name))

    def _compute(self, predictions, references, average="macro", labels=None):
        return {"f1": float(f1_score(references, predictions, average=average, labels=labels, zero_division=0))}


def intent_metrics(y_true: list[str], y_pred: list[str]) -> dict:
    """Accuracy and macro-F1 over all rows; in-scope accuracy, and OOS recall, precision and F1 when ``oos`` rows
    exist."""
    y_true, y_pred = list(y_true), list(y_pred)
    metrics = {"intent_accuracy": Accuracy().compute(predictions=y_pred, references=y_true)["accuracy"],
               "intent_macro_f1": F1().compute(predictions=y_pred, references=y_true, labels=sorted(set(y_true)),
                                               average="macro")["f1"],
               "n_intent": len(y_true)}
    in_scope = [(t, p) for t, p in zip(y_true, y_pred) if t != OOS]
    if in_scope:
        metrics["in_scope_accuracy"] = float(np.mean([t == p for t, p in in_scope]))
    oos = [p for t, p in zip(y_true, y_pred) if t == OOS]
    if oos:
        metrics["oos_recall"] = float(np.mean([p == OOS for p in oos]))
        predicted_oos = [t for t, p in zip(y_true, y_pred) if p == OOS]
        metrics["oos_precision"] = float(np.mean([t == OOS for t in predicted_oos])) if predicted_oos else 0.0
        total = metrics["oos_precision"] + metrics["oos_recall"]
        metrics["oos_f1"] = 2 * metrics["oos_precision"] * metrics["oos_recall"] / total if total else 0.0
    return metrics


def per_intent_scores(y_true: list[str], y_pred: list[str]) -> dict[str, dict]:
    labels = sorted(set(y_true) | set(y_pred))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, label in enumerate(labels)}


def confused_pairs(y_true: list[str], y_pred: list[str], top: int = 10) -> list[dict]:
    """The most frequent (true, predicted) mistakes."""
    counts = Counter((t, p) for t, p in zip(y_true, y_pred) if t != p)
    return [{"true": t, "predicted": p, "count": n} for (t, p), n in counts.most_common(top)]


def emotion_metrics(targets: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict:
    """Macro- and micro-F1 of multi-label emotion predictions (both arrays are 0/1, rows x labels)."""
    per_label = f1_score(targets, predicted, average=None, zero_division=0)
    f1 = F1(config_name="multilabel")
    rows = {"predictions": predicted.astype(np.int32).tolist(), "references": targets.astype(np.int32).tolist()}
    return {"emotion_macro_f1": f1.compute(**rows, average="macro")["f1"],
            "emotion_micro_f1": f1.compute(**rows, average="micro")["f1"],
            "n_emotion": int(targets.shape[0]),
            "emotion_f1": {label: float(v) for label, v in zip(labels, per_label)}}


def label_indices(matrix: np.ndarray) -> list[list[int]]:
    """The inverse of multi_hot: each row's 1-columns as a list (a compact form for JSON)."""
    return [np.flatnonzero(row).tolist() for row in matrix]


def multi_hot(label_ids: list[list[int]], n_labels: int) -> np.ndarray:
    out = np.zeros((len(label_ids), n_labels), dtype=np.float32)
    for row, ids in enumerate(label_ids):
        out[row, ids] = 1.0
    return out
