"""Scores for both heads, shared by training (validation) and `finetune evaluate` (test files)."""
from __future__ import annotations

from collections import Counter

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from bot.model.prediction import OOS


def intent_metrics(y_true: list[str], y_pred: list[str]) -> dict:
    """Accuracy and macro-F1 over all rows; in-scope accuracy and OOS recall when ``oos`` rows exist."""
    y_true, y_pred = list(y_true), list(y_pred)
    metrics = {"intent_accuracy": float(accuracy_score(y_true, y_pred)),
               "intent_macro_f1": float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro",
                                                        zero_division=0)),
               "n_intent": len(y_true)}
    in_scope = [(t, p) for t, p in zip(y_true, y_pred) if t != OOS]
    if in_scope:
        metrics["in_scope_accuracy"] = float(np.mean([t == p for t, p in in_scope]))
    oos = [p for t, p in zip(y_true, y_pred) if t == OOS]
    if oos:
        metrics["oos_recall"] = float(np.mean([p == OOS for p in oos]))
        predicted_oos = [t for t, p in zip(y_true, y_pred) if p == OOS]
        metrics["oos_precision"] = float(np.mean([t == OOS for t in predicted_oos])) if predicted_oos else 0.0
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
    return {"emotion_macro_f1": float(np.mean(per_label)),
            "emotion_micro_f1": float(f1_score(targets, predicted, average="micro", zero_division=0)),
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
