"""`python -m finetune evaluate`: score a model directory on test files and print a readable report."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from bot import HelplineModel
from bot.cli import parse_one
from bot.model.prediction import OOS, ModelOutputs, decoded

from . import PROG
from .arguments import EvaluateArguments, as_dataclass, dataclass_parser
from .data import DataError, load_emotion_data, load_intent_data
from .metrics import confused_pairs, emotion_metrics, intent_metrics, label_indices, multi_hot, per_intent_scores
from .oos_fit import in_scope_guesses, threshold_free


def evaluate(model: HelplineModel, intent_test: str | None = None, emotion_test: str | None = None,
             batch_size: int = 64, keep_predictions: bool = False) -> dict:
    """Metrics of ``model`` on an intent test file and/or a GoEmotions test file (with ``keep_predictions``,
    also each message's predicted intent and emotion label indices, in file order, for paired comparisons)."""
    result: dict = {"model": model.version}
    if intent_test:
        data = load_intent_data(intent_test).train
        unknown = sorted(set(list(data["intent"])) - set(model.intent_labels) - {OOS})
        if unknown:
            raise DataError(f"{intent_test}: {len(unknown)} intent label(s) the model does not know: {unknown[:30]}"
                            f"{' ...' if len(unknown) > 30 else ''}. Evaluate with a model trained on these "
                            "intents, or map them to known ones (or to 'oos').")
        texts = list(data["text"])
        outputs = model.outputs(texts, batch_size)   # one pass: the predictions and the OOS scores come from it
        y_pred = [p.intent for p in decoded(texts, outputs, model.decoder)]
        result.update(intent_metrics(list(data["intent"]), y_pred))
        is_oos = np.asarray(list(data["intent"])) == OOS
        if is_oos.any() and (~is_oos).any():   # how well the model's OOS score ranks, whatever its threshold
            result.update(oos_score_metrics(model, outputs, is_oos))
        result["per_intent"] = per_intent_scores(list(data["intent"]), y_pred)
        result["confused_pairs"] = confused_pairs(list(data["intent"]), y_pred)
        if keep_predictions:
            result["intent_predictions"] = y_pred
    if emotion_test:
        emotions = load_emotion_data(emotion_test)
        if emotions.labels != model.emotion_labels:
            raise DataError(f"{emotion_test}: its emotion labels differ from the model's; use a GoEmotions file "
                            "with the same labels.txt.")
        test = emotions.validation if emotions.validation is not None else emotions.train
        _, probs = model.probabilities(list(test["text"]), batch_size)
        thresholds = model.metadata.get("emotion_thresholds", {})
        cut = np.asarray([thresholds.get(label, 0.5) for label in model.emotion_labels])
        targets = multi_hot(list(test["labels"]), len(model.emotion_labels))
        predicted = (probs >= cut).astype(np.float32)
        result.update(emotion_metrics(targets, predicted, model.emotion_labels))
        if keep_predictions:
            result["emotion_predictions"] = label_indices(predicted)
    return result


def oos_score_metrics(model: HelplineModel, outputs: ModelOutputs, is_oos: np.ndarray) -> dict:
    """AUROC and FPR95 of the score the model decides out-of-scope with (its OOS detector's, else 1 - the top
    in-scope probability); an explicit OOS class that wins outright counts as the highest score."""
    msp, forced, _ = in_scope_guesses(outputs.intent, model.intent_labels)
    scores = outputs.oos if outputs.oos is not None else msp
    scores = np.where(forced, scores.max() + 1.0, scores)
    return {f"oos_{k}": v for k, v in threshold_free(scores, is_oos).items()} | {
        "oos_method": (model.metadata.get("oos_selection") or {}).get("chosen", "msp")}


def report(result: dict) -> str:
    lines = [f"model {result['model']}"]
    if "intent_accuracy" in result:
        lines += ["", f"intent: {result['n_intent']} messages", f"  accuracy       {result['intent_accuracy']:.4f}",
                  f"  macro-F1       {result['intent_macro_f1']:.4f}"]
        for key in ("in_scope_accuracy", "oos_recall", "oos_precision", "oos_f1", "oos_auroc", "oos_fpr95"):
            if key in result:
                lines.append(f"  {key.replace('_', ' '):<17} {result[key]:.4f}")
        if "oos_method" in result:
            lines.append(f"  {'oos score':<17} {result['oos_method']}")
        lines += ["", f"  {'intent':<32} {'prec':>6} {'recall':>6} {'F1':>6} {'n':>5}"]
        for label, s in sorted(result["per_intent"].items(), key=lambda kv: kv[1]["f1"]):
            lines.append(f"  {label:<32} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} {s['support']:5d}")
        if result["confused_pairs"]:
            lines += ["", "  most confused (true -> predicted):"]
            lines += [f"  {c['count']:4d}  {c['true']} -> {c['predicted']}" for c in result["confused_pairs"]]
    if "emotion_macro_f1" in result:
        lines += ["", f"emotion: {result['n_emotion']} messages", f"  macro-F1 {result['emotion_macro_f1']:.4f}",
                  f"  micro-F1 {result['emotion_micro_f1']:.4f}", ""]
        for label, f1 in sorted(result["emotion_f1"].items(), key=lambda kv: -kv[1]):
            lines.append(f"  {label:<16} {f1:.3f} {'#' * round(f1 * 40)}")
    return "\n".join(lines)


def add_parser(subparsers, name: str, help: str | None):
    parser = dataclass_parser(subparsers, name, help, "Score a Helpline model on test files.", EvaluateArguments)
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> dict:
    return run(parse_one(add_parser, "evaluate", argv, PROG))


def run(parsed) -> dict:
    args = as_dataclass(parsed, EvaluateArguments)
    model = HelplineModel.from_pretrained(args.model, backend="torch")
    result = evaluate(model, args.intent_test, args.emotion_test, args.batch_size)
    print(report(result))
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"\nwrote {args.output}", file=sys.stderr)
    return result
