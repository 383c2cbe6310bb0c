"""How a trained model tells out-of-scope messages, chosen by cross-validation on validation data it did not
train on: the score (max-softmax, kNN or Mahalanobis on the sentence vectors, bot/model/oos.py) and its
threshold.

A threshold set on the same messages it is then scored on looks better than it is (the threshold was fitted to
them). So the validation messages are cut into folds; on each fold the threshold comes from the other folds
(the highest that catches ``target_recall`` of their out-of-scope messages), and the fold scores it. The
folds' mean and spread estimate what a new test set gives; the score with the best estimate is kept, and its
final threshold comes from all the validation data.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from bot.model.oos import OosDetector
from bot.model.prediction import OOS, max_softmax_score

from .calibrate import OOS_MAX_ACCURACY_DROP, OOS_TARGET_RECALL

FOLDS = 5
# name: (OosDetector method, k); msp is the intent head's own top probability
CANDIDATES = {"msp": None, "knn1": ("knn", 1), "knn10": ("knn", 10), "mahalanobis": ("mahalanobis", 1),
              "knn_negatives": ("knn_negatives", 1), "msp_mahalanobis": ("msp_mahalanobis", 1)}
WANTED_RECALL = 0.85   # the OOS recall wanted on new messages: a score whose estimate falls short is not kept


def threshold_free(scores: np.ndarray, is_oos: np.ndarray) -> dict:
    """AUROC (out-of-scope as the positive class) and FPR95: the share of out-of-scope messages taken as in
    scope where 95% of in-scope messages are (the convention of the OOD papers, Liu et al. 2020)."""
    in_scope_cut = np.quantile(scores[~is_oos], 0.95)   # 95% of in-scope messages score at most this
    return {"auroc": round(float(roc_auc_score(is_oos, scores)), 4),
            "fpr95": round(float(np.mean(scores[is_oos] <= in_scope_cut)), 4)}


def fold_count(is_oos: np.ndarray) -> int:
    """FOLDS, or fewer when a class has fewer rows (each fold needs one of each)."""
    return int(min(FOLDS, is_oos.sum(), (~is_oos).sum()))


def choose_threshold(scores: np.ndarray, is_oos: np.ndarray, target_recall: float) -> float:
    """The highest score threshold (flag when score >= it) that catches ``target_recall`` of the OOS rows."""
    oos_scores = np.sort(scores[is_oos])
    index = int(np.floor((1.0 - target_recall) * len(oos_scores)))
    return float(oos_scores[min(max(index, 0), len(oos_scores) - 1)])


def decided(scores: np.ndarray, threshold: float, forced: np.ndarray, guesses: np.ndarray) -> np.ndarray:
    return np.where(forced | (scores >= threshold), OOS, guesses)


def decision_metrics(predicted: np.ndarray, truth: np.ndarray) -> dict:
    is_oos, flagged = truth == OOS, predicted == OOS
    recall = float(np.mean(flagged[is_oos]))
    precision = float(np.mean(is_oos[flagged])) if flagged.any() else 0.0
    return {"in_scope_accuracy": float(np.mean(predicted[~is_oos] == truth[~is_oos])), "oos_recall": recall,
            "oos_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0}


def cross_validated(scores: np.ndarray, truth: np.ndarray, forced: np.ndarray, guesses: np.ndarray,
                    target_recall: float, seed: int = 42) -> dict:
    """Each metric's mean and standard deviation over folds scored with thresholds from the other folds."""
    is_oos = truth == OOS
    folds = StratifiedKFold(fold_count(is_oos), shuffle=True, random_state=seed).split(scores, is_oos)
    per_fold = []
    for fit, held in folds:
        threshold = choose_threshold(scores[fit], is_oos[fit], target_recall)
        per_fold.append(decision_metrics(decided(scores[held], threshold, forced[held], guesses[held]), truth[held]))
    return {key: {"mean": round(float(np.mean([f[key] for f in per_fold])), 4),
                  "std": round(float(np.std([f[key] for f in per_fold])), 4)} for key in per_fold[0]}


def in_scope_guesses(probs: np.ndarray, intent_labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(max-softmax OOS score, rows an explicit OOS class wins outright, each row's best in-scope intent)."""
    labels = np.asarray(intent_labels)
    in_scope = labels != OOS
    scoped = np.where(in_scope[None, :], probs, -1.0)
    return max_softmax_score(probs, intent_labels), ~in_scope[probs.argmax(1)], labels[scoped.argmax(1)]


def candidate_scores(model, train_texts: list[str], train_intents: list[str], texts: list[str]):
    """{candidate: (detector or None, scores of ``texts``)}; also (forced, guesses): rows an explicit OOS class
    wins outright (out of scope whatever the score) and each row's best in-scope intent."""
    outputs = model.outputs(texts)   # one encoder pass: probabilities and sentence vectors
    msp, forced, guesses = in_scope_guesses(outputs.intent, model.intent_labels)
    keep = [i for i, intent in enumerate(train_intents) if intent != OOS]
    bank = model.sentence_vectors([train_texts[i] for i in keep])
    unknown = [text for text, intent in zip(train_texts, train_intents) if intent == OOS]
    negatives = model.sentence_vectors(unknown) if unknown else None
    vectors = outputs.sentence
    candidates = {"msp": (None, msp)}
    for name, spec in CANDIDATES.items():
        if spec is None or (spec[0] == "knn_negatives" and negatives is None):
            continue   # knn_negatives needs out-of-scope training examples
        if spec[0] == "msp_mahalanobis":   # both views, as percentiles among these (validation) messages
            detector = OosDetector.combined(candidates["mahalanobis"][0], msp, vectors)
        else:
            detector = OosDetector.fit(spec[0], bank, [train_intents[i] for i in keep], k=spec[1],
                                       negatives=negatives)
        candidates[name] = (detector, detector.scores(vectors, msp))
    return candidates, forced, guesses


def best_candidate(table: dict) -> str:
    """The best estimated in-scope accuracy among the scores whose estimated OOS recall reaches WANTED_RECALL
    (AUROC breaks ties; if none reaches it, the best estimated recall)."""
    reaching = [name for name, row in table.items() if row["oos_recall"]["mean"] >= WANTED_RECALL]
    if not reaching:
        return max(table, key=lambda name: (table[name]["oos_recall"]["mean"], table[name]["auroc"]))
    return max(reaching, key=lambda name: (table[name]["in_scope_accuracy"]["mean"], table[name]["auroc"]))


def fit_oos_detector(model, train, validation, target_recall: float, method: str = "auto", seed: int = 42,
                     budget: float = 0.0, background_texts: list[str] = ()) -> str:
    """Compare the candidates by cross-validation on ``validation`` (text/intent, with OOS rows), keep the best
    (or ``method``), set its threshold on all of it, and record the comparison in the metadata. Returns a log
    line. Without out-of-scope validation rows, intents held out in turn stand in for them and the threshold
    turns away at most ``budget`` of the correct in-scope answers (finetune/pseudo_oos.py; 0: no guard), and
    ``background_texts`` (talk that asks nothing of a business) give the knn_negatives score its negatives."""
    if validation is None or OOS not in set(validation["intent"]):
        model.oos = None   # whatever an --init-from model had was fitted to its own intents
        model.update_metadata(oos_score_threshold=None)
        model.metadata.pop("oos_selection", None)
        if budget <= 0:
            return "out-of-scope detection: none (no out-of-scope validation messages, and a budget of 0)"
        from .pseudo_oos import background_sample, fit_without_oos_data

        return fit_without_oos_data(model, train.filter(lambda row: row["intent"] != OOS), validation, budget,
                                    method, seed, background_sample(background_texts, seed))
    texts, truth = list(validation["text"]), np.asarray(list(validation["intent"]))
    if fold_count(truth == OOS) < 2:
        return (f"out-of-scope detection: max-softmax ({int((truth == OOS).sum())} out-of-scope validation "
                "message(s): too few to cross-validate scores on)")
    candidates, forced, guesses = candidate_scores(model, list(train["text"]), list(train["intent"]), texts)
    is_oos = truth == OOS
    table = {name: {**threshold_free(scores, is_oos),
                    **cross_validated(scores, truth, forced, guesses, target_recall, seed)}
             for name, (_, scores) in candidates.items()}
    chosen = best_candidate(table) if method == "auto" else method
    if chosen not in candidates:
        raise ValueError(f"--oos-method must be auto or one of {list(candidates)}, not {method!r}")
    detector, scores = candidates[chosen]
    threshold = choose_threshold(scores, is_oos, target_recall)
    model.oos = detector
    if detector is None:
        model.update_metadata(oos_threshold=round(1.0 - threshold, 4), oos_score_threshold=None)
    else:
        model.update_metadata(oos_score_threshold=threshold)
    model.metadata["oos_selection"] = {"chosen": chosen, "target_recall": target_recall,
                                       "folds": fold_count(is_oos),
                                       "candidates": table}
    row = table[chosen]
    return (f"out-of-scope detection: {chosen} (cross-validated on {len(texts)} validation messages: in-scope "
            f"accuracy {row['in_scope_accuracy']['mean']:.4f} +- {row['in_scope_accuracy']['std']:.4f}, OOS recall "
            f"{row['oos_recall']['mean']:.4f} +- {row['oos_recall']['std']:.4f}, AUROC {row['auroc']:.4f})")


@dataclass
class OosArguments:
    model: str = field(metadata={"help": "The Helpline model directory whose out-of-scope detection is refitted."})
    intent_data: list[str] = field(metadata={
        "help": "The model's intent data (any `train` format): with a validation split that has out-of-scope "
                "examples (such as CLINC150's JSON, val + oos_val) the score is cross-validated on them; "
                "without, intents held out in turn stand in for them."})
    oos_method: str = field(default="auto", metadata={
        "help": "auto (cross-validated) or msp, knn1, knn10, mahalanobis, knn_negatives, msp_mahalanobis."})
    oos_target_recall: float = field(default=OOS_TARGET_RECALL, metadata={
        "help": "The share of out-of-scope validation messages the threshold must catch."})
    oos_max_accuracy_drop: float = field(default=OOS_MAX_ACCURACY_DROP, metadata={
        "help": "Without out-of-scope examples: the share of correctly answered in-scope messages the guard may "
                "turn away (0: no guard)."})
    emotion_data: str | None = field(default=None, metadata={
        "help": "Without out-of-scope examples: the emotion data the model was trained with (GoEmotions); its "
                "comments are the talk that asks nothing of the business, which the knn_negatives score "
                "compares a message with."})
    seed: int = field(default=42, metadata={"help": "Seed of the folds."})


def add_parser(subparsers, name: str, help: str | None):
    from .arguments import dataclass_parser

    parser = dataclass_parser(subparsers, name, help, run.__doc__, OosArguments)
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    from bot.cli import parse_one

    from . import PROG

    run(parse_one(add_parser, "oos", argv, PROG))


def run(parsed) -> None:
    """`python -m finetune oos`: choose an existing model's out-of-scope score and threshold again (the encoder
    stays; the ONNX graph is exported again where it gives no sentence vectors)."""
    from datasets import concatenate_datasets

    from bot.model.components import save_refitted
    from bot.model.format import ONNX_FILE
    from bot.model.helpline_model import HelplineModel

    from .arguments import as_dataclass
    from .data import load_emotion_data, load_intent_data

    args = as_dataclass(parsed, OosArguments)
    directory = Path(args.model)
    model = HelplineModel.from_pretrained(directory, backend="torch")
    sources = [load_intent_data(path) for path in args.intent_data]
    given = [s.validation for s in sources if s.validation is not None]
    train = concatenate_datasets([s.train for s in sources])
    background = load_emotion_data(args.emotion_data).train_texts if args.emotion_data else []
    message = fit_oos_detector(model, train, concatenate_datasets(given) if given else None, args.oos_target_recall,
                               args.oos_method, args.seed, args.oos_max_accuracy_drop, background)
    save_refitted(model, directory, "oos")
    print(message, file=sys.stderr)
    if (directory / ONNX_FILE).is_file() and "sentence" not in model.metadata.get("onnx", {}).get("outputs", []):
        from .export import calibration_sample, export_onnx

        export_onnx(model, directory, calibration_texts=calibration_sample(list(train["text"]), args.seed))
