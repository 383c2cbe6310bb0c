"""Label-quality audit of intent training data: likely label errors and near-duplicates, most suspicious first.

    python -m finetune audit-data --intent-data FILE... [--from-store] [--model DIR] --output issues.csv

A model that learnt a set's labels cannot say which of them are wrong: it has memorised them. So every text gets
*out-of-fold* probabilities (`FOLDS` folds: a logistic regression on the encoder's sentence vectors and one on
TF-IDF n-grams, each trained on the other folds, combined by their geometric mean, so a label either view finds
implausible stays implausible). Confident learning (`cleanlab`) estimates how many labels are wrong from those
probabilities; that many rows are flagged, those whose given label is least probable (self-confidence). Ranking by
self-confidence over all rows, rather than taking cleanlab's own filter, finds more planted errors in the same
number of flags (benchmarks/RESULTS.md, Label audit). The encoder is the
base encoder, frozen (default), or `--model DIR`'s (sharper, but it was fine-tuned on these labels, so it may
have learnt some errors). Near-duplicates with different labels (cosine of the sentence vectors >= 0.97) are
flagged too: one of the two is wrong, or the intents overlap.

`--from-store` adds the agents' label corrections stored by the app (what `finetune retrain --from-store` learns
from), audited together with the files, so a wrong correction shows up beside the data it contradicts.

Columns: row (1-based, in the data as loaded: the files in order, then the corrections), text, given_label,
suggested_label, score (the given label's out-of-fold probability: low is suspicious), issue (label /
near_duplicate), source (the file, or "store").
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from bot.cli import parse_one
from bot.model.base_models import DEFAULT_BASE_MODEL
from finetune import PROG

FOLDS = 5
DUPLICATE_COSINE = 0.97
COLUMNS = ["row", "text", "given_label", "suggested_label", "score", "issue", "source"]


def sentence_vectors(texts: list[str], labels: list[str], model_dir: str | None, base_model: str) -> np.ndarray:
    """Normalised sentence vectors from the model's encoder, or the frozen base encoder."""
    if model_dir:
        from bot.model.helpline_model import HelplineModel

        vectors = HelplineModel.from_pretrained(model_dir).sentence_vectors(texts)
    else:
        from bot import HelplineModel

        vectors = HelplineModel.from_base(base_model, sorted(set(labels)) + ["_"]).sentence_vectors(texts)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def out_of_fold(texts: list[str], y: np.ndarray, vectors: np.ndarray, classes: int, seed: int = 42) -> np.ndarray:
    """Each row's class probabilities from models that never saw it (encoder and TF-IDF views, geometric mean)."""
    folds = min(FOLDS, int(np.bincount(y).min()))
    if folds < 2:
        raise ValueError("every intent needs at least 2 examples to audit its labels out of fold")
    probs = np.ones((len(texts), classes))
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(vectors, y):
        encoder = LogisticRegression(C=10.0, max_iter=2000).fit(vectors[fit], y[fit])
        tfidf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        lexical = LogisticRegression(C=10.0, max_iter=2000).fit(tfidf.fit_transform([texts[i] for i in fit]), y[fit])
        for view in (encoder.predict_proba(vectors[held]),
                     lexical.predict_proba(tfidf.transform([texts[i] for i in held]))):
            full = np.zeros((len(held), classes))
            full[:, encoder.classes_] = view     # a fold may miss a rare class: its column stays 0
            probs[held] *= np.sqrt(full)
    return probs / np.maximum(probs.sum(1, keepdims=True), 1e-9)


def near_duplicates(vectors: np.ndarray, labels: list[str], block: int = 2048) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for pairs of differently labelled texts that say nearly the same thing."""
    pairs = []
    for start in range(0, len(vectors), block):
        similarity = vectors[start:start + block] @ vectors.T
        for i, j in zip(*np.nonzero(similarity >= DUPLICATE_COSINE)):
            row = start + int(i)
            if row < j and labels[row] != labels[j]:
                pairs.append((row, int(j), float(similarity[i, j])))
    return pairs


def audit(texts: list[str], labels: list[str], vectors: np.ndarray, seed: int = 42) -> list[dict]:
    """The flagged rows, most suspicious first (label issues by self-confidence, then near-duplicates)."""
    from cleanlab.count import num_label_issues

    names = sorted(set(labels))
    y = np.asarray([names.index(label) for label in labels])
    probs = out_of_fold(texts, y, vectors, len(names), seed)
    given = probs[np.arange(len(y)), y]
    ranked = np.argsort(given, kind="stable")[:num_label_issues(y, probs)]   # least supported first
    rows = [{"row": int(i) + 1, "text": texts[i], "given_label": labels[i], "suggested_label": names[probs[i].argmax()],
             "score": round(float(probs[i, y[i]]), 4), "issue": "label"} for i in ranked]
    flagged = {r["row"] for r in rows}
    for i, j, cosine in near_duplicates(vectors, labels):
        for a, b in ((i, j), (j, i)):
            if a + 1 not in flagged:
                rows.append({"row": a + 1, "text": texts[a], "given_label": labels[a], "suggested_label": labels[b],
                             "score": round(1.0 - cosine, 4), "issue": "near_duplicate"})
                flagged.add(a + 1)
    return rows


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__.split("\n\n")[0])
    parser.add_argument("--intent-data", nargs="*", default=[],
                        help="training data to audit: CSV (text,intent), transcripts, a catalogue, CLINC150 JSON")
    parser.add_argument("--from-store", action="store_true",
                        help="also audit the agents' label corrections stored by the app (HELPLINE_DB or --db)")
    parser.add_argument("--db", help="SQLAlchemy URL of the store (default HELPLINE_DB)")
    parser.add_argument("--model", default=None, help="a model directory whose encoder reads the texts (default: "
                                                      "the frozen base encoder, which has not learnt these labels)")
    parser.add_argument("--base-model", default=DEFAULT_BASE_MODEL, help="the frozen encoder without --model")
    parser.add_argument("--output", required=True, help="the CSV of flagged rows to write")
    parser.add_argument("--seed", type=int, default=42)
    parser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> None:
    return run(parse_one(add_parser, "audit-data", argv, PROG))


def run(args) -> None:
    from .data import load_intent_data

    texts, labels, sources = [], [], []
    for path in args.intent_data:
        data = load_intent_data(path).train
        texts += list(data["text"])
        labels += list(data["intent"])
        sources += [path] * len(data)
    if args.from_store:
        from bot.store.conversations import Store

        from .environment import database

        corrections = Store(args.db or database()).label_corrections()
        texts += [text for text, _ in corrections]
        labels += [intent for _, intent in corrections]
        sources += ["store"] * len(corrections)
    if not texts:
        raise ValueError("nothing to audit: give --intent-data FILE ... and/or --from-store")
    print(f"reading {len(texts)} texts ({len(set(labels))} intents) with the encoder", file=sys.stderr)
    rows = audit(texts, labels, sentence_vectors(texts, labels, args.model, args.base_model), args.seed)
    for row in rows:
        row["source"] = sources[row["row"] - 1]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    issues = sum(r["issue"] == "label" for r in rows)
    print(f"{issues} likely label errors and {len(rows) - issues} near-duplicates with another label, most "
          f"suspicious first, in {args.output}", file=sys.stderr)
