"""Retraining benchmark: route a new conversation from its opening customer message, learnt from STAR's tags.

    python benchmarks/retrain.py [--init-from MODEL_DIR] [--test FILE.jsonl ...]

Takes the opening customer message of each STAR conversation with exactly one tag (24 tags), holds out 20% of
conversations (stratified, seed 42) unless --test gives other transcript files, and in one run trains and
scores TF-IDF + LinearSVC, frozen MiniLM + logistic regression and `python -m finetune retrain` on the same
messages. Also reports retraining time and the emotion macro-F1 on GoEmotions dev before and after (the
emotion head must not forget). Writes benchmarks/results/retrain.json and a table in RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.report import command_line, machine, markdown_table, publish

ROOT = Path(__file__).resolve().parent.parent


def openings(conversations: list[dict]) -> list[tuple[dict, str, str]]:
    """(conversation, opening customer message, its tag) for conversations with exactly one tag. The opening
    message is the first that is not small talk ("Hello": 27% of STAR's first messages), as retrain uses it."""
    from bot.batch.transcripts import opening_message

    out = []
    for c in conversations:
        first = opening_message(c)
        if first and len(c.get("tags") or []) == 1:
            out.append((c, first, c["tags"][0]))
    return out


def split(rows: list, fraction: float, seed: int) -> tuple[list, list]:
    by_tag = defaultdict(list)
    for row in rows:
        by_tag[row[2]].append(row)
    rng, train, test = random.Random(seed), [], []
    for tag in sorted(by_tag):
        items = by_tag[tag][:]
        rng.shuffle(items)
        n = max(1, round(len(items) * fraction))
        test += items[:n]
        train += items[n:]
    return train, test


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("HELPLINE_DATA", str(ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--init-from", help="continue from this model (default: the base encoder)")
    parser.add_argument("--test", nargs="*", help="held-back transcript files to score on instead of a split")
    parser.add_argument("--max-steps", type=int, default=-1, help="cap training steps (smoke runs)")
    args = parser.parse_args(argv)

    from benchmarks.baselines import FrozenEncoder, frozen_lr_intents, tfidf_svc_intents
    from bot import HelplineModel
    from bot.batch.transcripts import read_transcripts
    from finetune.evaluate import evaluate
    from finetune.retrain import main as retrain

    rows = openings(read_transcripts(Path(args.data) / "transcripts" / "star.jsonl"))
    if args.test:
        train = rows
        test = [r for path in args.test for r in openings(read_transcripts(path))]
    else:
        train, test = split(rows, 0.2, 42)
    train_x, train_y = [r[1] for r in train], [r[2] for r in train]
    test_x, test_y = [r[1] for r in test], [r[2] for r in test]
    calib_x, calib_y = split([(None, x, y) for x, y in zip(train_x, train_y)], 0.1, 7)[1], None
    calib_y = [r[2] for r in calib_x]
    calib_x = [r[1] for r in calib_x]
    accuracy = lambda pred: sum(p == y for p, y in zip(pred, test_y)) / len(test_y)  # noqa: E731
    results = {}
    started = time.time()
    results["TF-IDF + LinearSVC"] = {"accuracy": round(accuracy(tfidf_svc_intents(train_x, train_y, test_x)), 4),
                                     "train_seconds": round(time.time() - started, 1)}
    started = time.time()
    encoder = FrozenEncoder()
    frozen = frozen_lr_intents(encoder, train_x, train_y, calib_x, calib_y, test_x)
    results["frozen MiniLM + LR"] = {"accuracy": round(accuracy(frozen), 4),
                                     "train_seconds": round(time.time() - started, 1)}
    work = Path(tempfile.mkdtemp(prefix="helpline-retrain-"))
    (work / "train.jsonl").write_text("\n".join(json.dumps(r[0]) for r in train) + "\n")
    emotion_dev = str(Path(args.data) / "goemotions" / "original" / "dev.tsv")
    before = None
    if args.init_from:
        before = evaluate(HelplineModel.from_pretrained(args.init_from, backend="torch"),
                          emotion_test=emotion_dev)["emotion_macro_f1"]
    started = time.time()
    retrain(["--transcripts", str(work / "train.jsonl"), "--output", str(work / "model")]
            + (["--init_from", args.init_from] if args.init_from else [])
            + (["--max_steps", str(args.max_steps)] if args.max_steps > 0 else []))
    seconds = time.time() - started
    predicted = [p.intent for p in HelplineModel.from_pretrained(work / "model").predict(test_x)]
    after = evaluate(HelplineModel.from_pretrained(work / "model", backend="torch"),
                     emotion_test=emotion_dev)["emotion_macro_f1"]
    results["Helpline retrain"] = {"accuracy": round(accuracy(predicted), 4), "train_seconds": round(seconds, 1),
                                   "emotion_macro_f1_before": before, "emotion_macro_f1_after": round(after, 4)}
    for row in results.values():
        row["vs_tfidf"] = round(row["accuracy"] / results["TF-IDF + LinearSVC"]["accuracy"], 3)
        row["vs_frozen"] = round(row["accuracy"] / results["frozen MiniLM + LR"]["accuracy"], 3)
    record = {"date": time.strftime("%Y-%m-%d"), "machine": machine(),
              "n_train": len(train_x), "n_test": len(test_x), "labels": len(set(train_y)),
              "test": args.test or "20% of STAR conversations held out (stratified by tag, seed 42)",
              "init_from": args.init_from, "results": results,
              "command": command_line("retrain.py", argv)}
    lines = [f"`{record['command']}` on {record['date']}, {record['machine']}: {record['n_train']} opening messages "
             f"({record['labels']} tags) to learn from, {record['n_test']} to route; {record['test']}.", ""]
    lines += markdown_table(["method", "accuracy", "vs TF-IDF", "vs frozen", "training time"], [
        [name, f"{r['accuracy']:.4f}", f"{r['vs_tfidf']:.3f}x", f"{r['vs_frozen']:.3f}x", f"{r['train_seconds']:.0f} s"]
        for name, r in results.items()])
    h = results["Helpline retrain"]
    lines += ["", f"Emotion macro-F1 on GoEmotions dev: {h['emotion_macro_f1_before'] or '-'} before, "
              f"{h['emotion_macro_f1_after']} after retraining (GoEmotions replayed)."]
    publish("retrain", "Retraining on transcripts", record, lines)
    return record


if __name__ == "__main__":
    main()
