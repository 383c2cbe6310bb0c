"""Label-audit benchmark: plant label flips in a real training set, see how many `finetune audit-data` finds.

    python benchmarks/label_audit.py [--intent-data FILE] [--flip 0.03] [--model DIR]

Takes Banking77 train (default; any CSV text,intent), flips the given share of its labels at random to another
intent (seed 42), and audits the noisy copy. Reports, for Helpline (out-of-fold probabilities from the frozen
encoder and TF-IDF views; cleanlab says how many to flag, the least supported labels are flagged;
`finetune/audit_data.py`) and, in the same run, the baseline (the rows a TF-IDF + logistic regression, out of
fold, gives the lowest probability to their label): precision and recall of the flagged rows against the
planted flips, and precision at k = the number of flips (its top flags). The data may hold real label errors
too: a flag on an unplanted row counts against precision here. Writes benchmarks/results/label_audit.json and
the table in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from benchmarks.report import command_line, machine, markdown_table, publish

ROOT = Path(__file__).resolve().parent.parent


def planted(labels: list[str], share: float, seed: int = 42) -> tuple[list[str], set[int]]:
    """The labels with ``share`` of them flipped to another intent at random, and the flipped rows."""
    rng = random.Random(seed)
    names = sorted(set(labels))
    rows = set(rng.sample(range(len(labels)), round(share * len(labels))))
    noisy = [rng.choice([n for n in names if n != label]) if i in rows else label for i, label in enumerate(labels)]
    return noisy, rows


def scored(flagged: list[int], truth: set[int]) -> dict:
    hits = len(set(flagged) & truth)
    top = len(set(flagged[:len(truth)]) & truth)
    return {"flagged": len(flagged), "precision": round(hits / max(len(flagged), 1), 4),
            "recall": round(hits / max(len(truth), 1), 4), "precision_at_k": round(top / max(len(truth), 1), 4)}


def tfidf_baseline(texts: list[str], labels: list[str], flag: int) -> list[int]:
    """The ``flag`` rows whose label a TF-IDF + logistic regression, out of fold, believes least."""
    names = sorted(set(labels))
    y = np.asarray([names.index(label) for label in labels])
    features = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    probs = cross_val_predict(LogisticRegression(C=10.0, max_iter=2000), features, y, cv=5, method="predict_proba")
    return [int(i) for i in np.argsort(probs[np.arange(len(y)), y])[:flag]]


def main(argv: list[str] | None = None) -> dict:
    from finetune.audit_data import audit, sentence_vectors
    from finetune.data import load_intent_data

    data_dir = Path(os.environ.get("HELPLINE_DATA", str(ROOT.parent / "shared" / "datasets")))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intent-data", default=str(data_dir / "banking77" / "train.csv"))
    parser.add_argument("--flip", type=float, default=0.03, help="share of labels flipped")
    parser.add_argument("--model", help="a model directory whose encoder reads the texts (default: frozen base)")
    parser.add_argument("--base-model", default="sentence-transformers/all-MiniLM-L6-v2")
    args = parser.parse_args(argv)
    data = load_intent_data(args.intent_data).train
    texts = list(data["text"])
    noisy, flips = planted(list(data["intent"]), args.flip)
    started = time.time()
    rows = audit(texts, noisy, sentence_vectors(texts, noisy, args.model, args.base_model))
    helpline = [r["row"] - 1 for r in rows if r["issue"] == "label"]
    seconds = round(time.time() - started, 1)
    baseline = tfidf_baseline(texts, noisy, len(helpline))   # as many flags as Helpline raised
    results = {"helpline": {**scored(helpline, flips), "seconds": seconds},
               "tfidf_lowest_confidence": scored(baseline, flips)}
    near = sum(r["issue"] == "near_duplicate" for r in rows)
    record = {"command": command_line("label_audit.py", argv), "machine": machine(),
              "date": time.strftime("%Y-%m-%d"), "data": args.intent_data, "rows": len(texts),
              "flipped": len(flips), "near_duplicates_flagged": near, "results": results}
    table = [[name, r["flagged"], f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['precision_at_k']:.3f}"]
             for name, r in results.items()]
    lines = [f"{record['date']}; {record['machine']}; `{record['command']}`", "",
             f"{len(texts)} rows of `{Path(args.intent_data).name}`, {len(flips)} labels flipped ({args.flip:.0%}); "
             f"Helpline's audit took {seconds} s and also named {near} near-duplicates under another label.", "",
             *markdown_table(["method", "flagged", "precision", "recall", f"precision at k={len(flips)}"], table)]
    publish("label_audit", "Label audit", record, lines)
    return record


if __name__ == "__main__":
    main()
