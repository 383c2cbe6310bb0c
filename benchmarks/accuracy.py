"""Accuracy benchmark: Helpline against TF-IDF + LinearSVC and frozen encoder + logistic regression, in one run.

    python benchmarks/accuracy.py                      # validation splits (held out from train/dev; ~45 min)
    python benchmarks/accuracy.py --banking77-test B77_TEST.csv --clinc-test CLINC_TEST.json \\
        --goemotions-test GOEMOTIONS_TEST.tsv          # the held-back test files

Validation mode holds out 10% of Banking77 train (stratified), half of CLINC150 val and half of GoEmotions dev
for scoring; the other halves calibrate thresholds (for every method alike). Every method runs in its own
process, so training time and peak memory (max RSS) are its own. Helpline is trained with
`python -m finetune train` defaults: one model on Banking77 + GoEmotions, one on CLINC150 + GoEmotions.
Each Helpline row also gets Helpline minus each baseline with a 95% paired-bootstrap interval (significance.py).
Writes benchmarks/results/accuracy-{validation,test}.json and the table in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import significance, splits
from benchmarks.report import machine, update_results_md

ROOT = Path(__file__).resolve().parent.parent

METHODS = ("tfidf_svc", "frozen_lr", "helpline")
TASKS = {"banking77": "intent", "clinc150": "intent", "goemotions": "emotion"}


def run_worker(method: str, task: str, work: Path, max_steps: int, train_args: list[str] = ()) -> dict:
    """Train and score one method on one task in this process; return its metrics."""
    import numpy as np

    from benchmarks import baselines
    from finetune.metrics import emotion_metrics, intent_metrics, label_indices

    data = splits.load(work, task)
    started = time.time()
    if method == "helpline":
        return helpline(work, task, max_steps, train_args)
    encoder = baselines.FrozenEncoder() if method == "frozen_lr" else None
    if TASKS[task] == "intent":
        if method == "tfidf_svc":
            predicted = baselines.tfidf_svc_intents(data["train_x"], data["train_y"], data["test_x"])
        else:
            predicted = baselines.frozen_lr_intents(encoder, data["train_x"], data["train_y"], data["calib_x"],
                                                    data["calib_y"], data["test_x"])
        metrics = intent_metrics(data["test_y"], predicted)
        save_predictions(work, method, task, list(predicted))
    else:
        labels = data["labels"]
        fn = baselines.tfidf_svc_emotions if method == "tfidf_svc" else baselines.frozen_lr_emotions
        extra = () if method == "tfidf_svc" else (encoder,)
        predicted = fn(*extra, data["train_x"], data["train_y"], data["calib_x"], data["calib_y"], data["test_x"],
                       labels)
        metrics = emotion_metrics(np.asarray(data["test_y"]), predicted, labels)
        save_predictions(work, method, task, label_indices(predicted))
    metrics["train_seconds"] = round(time.time() - started, 1)
    return metrics


def helpline(work: Path, task: str, max_steps: int, train_args: list[str] = ()) -> dict:
    """Train with `finetune train` defaults (Banking77 + GoEmotions serves both of those tasks) and evaluate."""
    from bot import HelplineModel
    from finetune.evaluate import evaluate
    from finetune.train import main as train

    intents = "clinc150" if task == "clinc150" else "banking77"
    out = work / f"model-{intents}"
    if not out.exists():  # the GoEmotions row reuses the Banking77 + GoEmotions model of the same run
        data = work / ("clinc150.json" if intents == "clinc150" else "banking77_train.csv")
        train(["--intent-data", str(data), "--emotion-data", str(work / "goemotions"), "--output", str(out)]
              + (["--max-steps", str(max_steps)] if max_steps > 0 else []) + list(train_args))
    model = HelplineModel.from_pretrained(out, backend="torch")
    before = None
    if task == "clinc150":   # the same model deciding out-of-scope as before (max-softmax and its threshold)
        chosen, oos_cut = model.oos, model.metadata.get("oos_score_threshold")
        model.oos = None
        model.update_metadata(oos_score_threshold=None)
        before = evaluate(model, intent_test=str(work / f"{task}_test.csv"))
        before = {k: v for k, v in before.items() if not isinstance(v, (dict, list)) and k != "model"}
        model.oos = chosen
        model.update_metadata(oos_score_threshold=oos_cut)
    if TASKS[task] == "intent":
        result = evaluate(model, intent_test=str(work / f"{task}_test.csv"), keep_predictions=True)
    else:
        result = evaluate(model, emotion_test=str(work / "goemotions_test.tsv"), keep_predictions=True)
    keep = {k: v for k, v in result.items() if not isinstance(v, (dict, list)) and k != "model"}
    save_predictions(work, "helpline", task, result[f"{TASKS[task]}_predictions"])
    keep |= {"train_seconds": model.metadata["training"]["wall_seconds"], "model_version": model.version,
             "intent_data": intents}
    if before is not None:
        keep["before"] = before | {"train_seconds": keep["train_seconds"]}
        keep["oos_selection"] = model.metadata.get("oos_selection")
    return keep


def save_predictions(work: Path, method: str, task: str, predictions: list) -> None:
    """Each test message's prediction, in test-file order, for the paired comparison (not kept in results)."""
    (work / f"predictions-{method}-{task}.json").write_text(json.dumps(predictions))


def comparisons(work: Path, task: str, methods: list[str]) -> dict | None:
    """Helpline minus each baseline on this task's test messages, with paired-bootstrap 95% intervals."""
    from finetune.metrics import multi_hot

    data = json.loads((work / f"{task}.splits.json").read_text())
    predictions = {m: json.loads((work / f"predictions-{m}-{task}.json").read_text()) for m in methods}
    if "helpline" not in predictions or len(predictions) < 2:
        return None
    truth = data["test_y"]
    if any(len(p) != len(truth) for p in predictions.values()):
        print(f"{task}: predictions and test rows differ in number; no intervals", file=sys.stderr)
        return None
    if TASKS[task] == "emotion":
        truth = multi_hot(truth, len(data["labels"]))
        predictions = {m: multi_hot(p, len(data["labels"])) for m, p in predictions.items()}
    return significance.compare(TASKS[task], truth, predictions)


def spawn(method: str, task: str, work: Path, max_steps: int, train_args: str = "") -> dict:
    """Run one method in a child process; its own peak RSS comes from wait4."""
    out = work / f"result-{method}-{task}.json"
    cmd = [sys.executable, __file__, "--worker", method, task, "--workdir", str(work), "--max-steps", str(max_steps),
           f"--train-args={train_args}"]
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{method} on {task} failed (exit {os.waitstatus_to_exitcode(status)})")
    return json.loads(out.read_text()) | {"peak_rss_mb": round(usage.ru_maxrss / 1024)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--banking77-test", help="held-back Banking77 test CSV (text,category)")
    parser.add_argument("--clinc-test", help="held-back CLINC150 test: JSON with test/oos_test, or CSV text,intent")
    parser.add_argument("--goemotions-test", help="held-back GoEmotions test TSV")
    parser.add_argument("--max-steps", type=int, default=-1, help="cap Helpline training (smoke runs only)")
    parser.add_argument("--train-args", default="", help="more `finetune train` flags for Helpline, e.g. "
                                                         "\"--upset-examples-per-epoch 0\" (an ablation)")
    parser.add_argument("--output-dir", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "TASK"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        method, task = args.worker
        work = Path(args.workdir)
        result = run_worker(method, task, work, args.max_steps, args.train_args.split())
        (work / f"result-{method}-{task}.json").write_text(json.dumps(result))
        return result

    test_files = {"banking77": args.banking77_test, "clinc150": args.clinc_test, "goemotions": args.goemotions_test}
    mode = "test" if any(test_files.values()) else "validation"
    random.seed(args.seed)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="helpline-accuracy-") as tmp:
        work = Path(tmp)
        splits.prepare(work, test_files, args.seed)
        for task in args.tasks:
            for method in args.methods:
                print(f"\n=== {task}: {method}", file=sys.stderr, flush=True)
                results.setdefault(task, {})[method] = spawn(method, task, work, args.max_steps, args.train_args)
                if "before" in results[task][method]:   # today's method on the same model, as its own row
                    results[task]["helpline_msp"] = results[task][method].pop("before")
                print(json.dumps(results[task][method]), file=sys.stderr, flush=True)
            versus = comparisons(work, task, [m for m in results[task] if m in METHODS])
            if versus:
                results[task]["helpline"]["vs"] = versus
    record = {"mode": mode, "date": time.strftime("%Y-%m-%d"),
              "command": " ".join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
              "machine": machine() + ", no GPU",
              "max_steps": args.max_steps, "test_files": test_files, "results": results}
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"accuracy-{mode}.json"
    if path.exists() and set(args.tasks) != set(TASKS):  # a partial run updates its tasks, keeps the others
        previous = json.loads(path.read_text())
        record["results"] = previous["results"] | results
        record["runs"] = previous.get("runs", [previous["command"]]) + [record["command"]]
    path.write_text(json.dumps(record, indent=2))
    table = update_results_md(record, ROOT / "benchmarks" / "RESULTS.md")
    print(table)
    return record


if __name__ == "__main__":
    main()
