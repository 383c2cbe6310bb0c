"""Thresholds tuned on validation data: out-of-scope rejection and one threshold per emotion label."""
from __future__ import annotations

import numpy as np

from bot.model.prediction import OOS

from .metrics import confused_pairs, emotion_metrics, intent_metrics, multi_hot, per_intent_scores

GRID = np.round(np.arange(0.02, 0.96, 0.01), 2)


def emotion_thresholds(probs: np.ndarray, targets: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Per label, the threshold with the best F1 on validation (0.5 for labels never seen there)."""
    thresholds = {}
    for j, label in enumerate(labels):
        positives = targets[:, j] > 0
        if not positives.any():
            thresholds[label] = 0.5
            continue
        predicted = probs[:, j][None, :] >= GRID[:, None]                   # grid x rows
        tp = (predicted & positives).sum(1)
        f1 = 2 * tp / (predicted.sum(1) + positives.sum()).clip(min=1)
        thresholds[label] = float(GRID[int(np.argmax(f1))])
    return thresholds


# The share of validation out-of-scope messages the threshold must catch: above the 85% we want on new messages,
# because a threshold set to catch exactly 85% of a few dozen validation examples catches fewer on new ones about
# half the time (what 0.85 and 0.88 gave on CLINC150: benchmarks/RESULTS.md, Training choices).
OOS_TARGET_RECALL = 0.88
# Without out-of-scope examples, the share of correct in-scope answers the guard may turn away
# (finetune/pseudo_oos.py): small, as the guard is for what is nowhere near an intent.
OOS_MAX_ACCURACY_DROP = 0.002


def oos_threshold(probs: np.ndarray, y_true: list[str], intent_labels: list[str],
                  target_recall: float = OOS_TARGET_RECALL) -> float:
    """The in-scope probability below which a message is called out of scope: with out-of-scope rows in
    validation, the lowest threshold that catches ``target_recall`` of them (the lowest, because every step up
    also turns correct in-scope answers into "I can't help"); if none reaches the target, the one with the best
    mean of in-scope accuracy and OOS recall. Without any: 0 here; finetune/pseudo_oos.py sets the guard."""
    y_true = np.asarray(y_true)
    is_oos = y_true == OOS
    if not is_oos.any():
        return 0.0
    in_scope = np.asarray([label != OOS for label in intent_labels])
    scoped = np.where(in_scope[None, :], probs, -1.0)
    best_label = np.asarray(intent_labels)[scoped.argmax(1)]
    best_p = scoped.max(1)
    top_is_oos = ~in_scope[probs.argmax(1)]          # the explicit oos class (if any) won outright
    best, best_score = 0.0, -1.0
    for t in np.concatenate([[0.0], GRID]):
        # the same rule as bot.model.prediction.Decoder.intent_decision, vectorised over rows
        y_pred = np.where(top_is_oos | (best_p < t), OOS, best_label)
        correct = y_pred == y_true
        recall = correct[is_oos].mean()
        if recall >= target_recall:
            return float(t)
        score = (correct[~is_oos].mean() if (~is_oos).any() else 0.0) + recall
        if score > best_score:
            best, best_score = float(t), score
    return best


def calibrate(model, validation, emotions, args) -> dict:
    """Tune a trained model's OOS and emotion thresholds on validation data (``validation``: text/intent
    columns; ``emotions``: finetune.data.EmotionData or None; ``args``: TrainArguments); write them into its
    metadata and return the validation metrics."""
    metrics: dict = {}
    if validation is None:  # --validation-fraction 0: nothing held out, so no OOS threshold and no intent scores
        model.update_metadata(oos_threshold=0.0)
    else:
        metrics.update(calibrate_intents(model, validation, args))
    if emotions is not None and emotions.validation is not None:
        _, emotion_probs = model.probabilities(list(emotions.validation["text"]))
        targets = multi_hot(list(emotions.validation["labels"]), len(model.emotion_labels))
        thresholds = emotion_thresholds(emotion_probs, targets, model.emotion_labels)
        model.update_metadata(emotion_thresholds=thresholds, sentiment_groups=emotions.sentiment_groups)
        cut = np.asarray([thresholds[label] for label in model.emotion_labels])
        metrics.update(emotion_metrics(targets, (emotion_probs >= cut).astype(np.float32), model.emotion_labels))
    return metrics


def calibrate_intents(model, validation, args) -> dict:
    """Set the OOS threshold on validation intents and return their metrics."""
    intent_probs, _ = model.probabilities(list(validation["text"]))
    threshold = oos_threshold(intent_probs, list(validation["intent"]), model.intent_labels, args.oos_target_recall)
    model.update_metadata(oos_threshold=threshold)
    predicted = [model.decoder.intent_decision(row)[0] for row in intent_probs]
    metrics = intent_metrics(list(validation["intent"]), predicted)
    # kept in the metadata for the console's Model page and for comparing a candidate with the serving model
    metrics["confused_pairs"] = confused_pairs(list(validation["intent"]), predicted)
    metrics["per_intent_f1"] = {k: round(v["f1"], 4)
                                for k, v in per_intent_scores(list(validation["intent"]), predicted).items()}
    return metrics
