"""Latency, throughput, memory and load time of the serving paths, in one run on one fine-tuned model.

    python benchmarks/latency.py --model models/b77 [--intent-texts FILE.csv] [--emotion-test FILE.tsv]

Compares the plain `transformers.pipeline("text-classification")` (torch, the encoder with a sequence
classification head), our torch path and our ONNX Runtime int8 path (`HelplineModel` with backend "onnx"), and checks
that the ONNX path agrees with torch: intent agreement and emotion macro-F1 on validation data (Banking77's held-out
10% of train and GoEmotions dev by default; pass other files to use them). Writes
benchmarks/results/latency.json and the table in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from benchmarks.report import command_line, machine, markdown_table, publish, validation_texts

ROOT = Path(__file__).resolve().parent.parent

# Peak RSS is read from /proc (VmHWM): getrusage's ru_maxrss survives exec on Linux, so a child started from
# this (large) benchmark process would report the parent's peak.
SERVING_PROBE = """
import sys, time
started = time.perf_counter()
from bot import HelplineModel
c = HelplineModel.from_pretrained(sys.argv[1], backend=sys.argv[2])
c.predict("where is my card?")
load = time.perf_counter() - started
for i in range(500):
    c.predict(f"I was charged twice for order {i}, please fix it")
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(load, int(hwm) / 1024)
"""


def timed_single(predict, texts: list[str], repeat: int) -> dict:
    for text in texts[:20]:  # warm-up: first calls allocate
        predict(text)
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        predict(texts[i % len(texts)])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 3), "p90_ms": round(times[int(0.9 * len(times))], 3),
            "p99_ms": round(times[int(0.99 * len(times))], 3)}


def timed_batch(predict_many, texts: list[str]) -> float:
    predict_many(texts[:64])
    started = time.perf_counter()
    predict_many(texts)
    return round(len(texts) / (time.perf_counter() - started), 1)


PLAN = "Helpline analyze (batch plan)"
PATHS = ("transformers pipeline (torch)", "Helpline torch", "Helpline ONNX int8", "Helpline ONNX int8, encoder only",
         PLAN)


def worker(name: str, model: str, texts_file: str, repeat: int, batch_texts: int) -> dict:
    """Time one path in this (fresh) process; prints its row as JSON."""
    intent_texts = json.loads(Path(texts_file).read_text())
    texts, batch = intent_texts[:2000], (intent_texts * 10)[:batch_texts]
    if name == "transformers pipeline (torch)":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

        from bot.model.format import read_metadata

        # The baseline: the same fine-tuned encoder behind a stock sequence-classification head and pipeline.
        n = len(read_metadata(Path(model))["intent_labels"])
        hf = AutoModelForSequenceClassification.from_pretrained(model, num_labels=n)
        pipe = pipeline("text-classification", model=hf, tokenizer=AutoTokenizer.from_pretrained(model), device=-1)
        single, many = (lambda t: pipe(t)), (lambda ts: pipe(ts, batch_size=64))
    else:
        from bot import HelplineModel

        classifier = HelplineModel.from_pretrained(model, backend="torch" if "torch" in name else "onnx")
        if "encoder only" in name:  # what the lexical head costs
            classifier.lexical = None
        single, many = classifier.predict, classifier.predict
    row = timed_single(single, texts, repeat)
    if name == PLAN:   # `python -m bot analyze` on this CPU: its plan's processes, threads and batch size
        from benchmarks.batch_speed import run_option
        from bot.model.batch_plan import plan_for_this_cpu

        plan = plan_for_this_cpu()
        del classifier   # its threads would compete with the plan's processes
        row["batched_msgs_per_s"] = run_option(model, batch, plan.processes, plan.threads or 1, plan.batch_size,
                                               True)["msgs_per_s"]
        row["plan"] = f"{plan.processes} processes x {plan.threads} threads, batch {plan.batch_size}"
        return row
    row["batched_msgs_per_s"] = timed_batch(many, batch)
    return row


def serving_probe(model: str, backend: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SERVING_PROBE, model, backend], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return {"load_seconds": round(float(out[0]), 2), "peak_rss_mb": round(float(out[1]))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned Helpline model directory with its ONNX graph")
    parser.add_argument("--intent-texts", help="intent CSV for the agreement check (default: Banking77 val)")
    parser.add_argument("--emotion-test", help="GoEmotions TSV for the agreement check (default: dev)")
    parser.add_argument("--data", default=os.environ.get("HELPLINE_DATA", str(ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--repeat", type=int, default=1000, help="single-message calls per path")
    parser.add_argument("--batch-texts", type=int, default=4000, help="messages for the batched throughput")
    parser.add_argument("--rounds", type=int, default=3, help="times every path runs, taking turns")
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args.texts, args.repeat, args.batch_texts)))
        return {}

    import torch

    from bot import HelplineModel
    from finetune.metrics import emotion_metrics, multi_hot

    intent_texts, emotion_texts, emotion_labels = validation_texts(args)
    work = Path(tempfile.mkdtemp(prefix="helpline-latency-"))
    (work / "texts.json").write_text(json.dumps(intent_texts))
    # This VM's speed drifts by up to 1.6x over minutes, so the paths take turns, each round running every path
    # once in a fresh process (no torch threads spinning beside ONNX Runtime); speed-ups are paired within a
    # round, and each figure is the median over rounds with the p50's range beside it.
    rounds: list[dict] = []
    for r in range(args.rounds):
        rounds.append({})
        for name in PATHS:
            out = subprocess.run([sys.executable, __file__, "--worker", name, "--model", args.model, "--texts",
                                  str(work / "texts.json"), "--repeat", str(args.repeat), "--batch-texts",
                                  str(args.batch_texts)], cwd=ROOT, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"{name} failed: {out.stderr[-2000:]}")
            rounds[r][name] = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"round {r + 1}", name, rounds[r][name], flush=True)
    results = {}
    for name in PATHS:
        rows = [one[name] for one in rounds]
        results[name] = {key: round(statistics.median(row[key] for row in rows), 3) for key in rows[0]
                         if key != "plan"}
        results[name]["p50_ms_range"] = [min(row["p50_ms"] for row in rows), max(row["p50_ms"] for row in rows)]
        results[name]["speedup_p50"] = round(statistics.median(
            one["transformers pipeline (torch)"]["p50_ms"] / one[name]["p50_ms"] for one in rounds), 2)
        results[name]["speedup_batched"] = round(statistics.median(
            one[name]["batched_msgs_per_s"] / one["transformers pipeline (torch)"]["batched_msgs_per_s"]
            for one in rounds), 2)
    onnx = HelplineModel.from_pretrained(args.model, backend="onnx")
    torch_path = HelplineModel.from_pretrained(args.model, backend="torch")
    serving = {"onnx": serving_probe(args.model, "onnx"), "torch": serving_probe(args.model, "torch")}
    # agreement of the ONNX int8 path with torch on validation data
    intents_torch = [p.intent for p in torch_path.predict(intent_texts)]
    intents_onnx = [p.intent for p in onnx.predict(intent_texts)]
    targets = multi_hot(emotion_labels, len(onnx.emotion_labels))
    f1 = {}
    for name, classifier in (("torch", torch_path), ("onnx", onnx)):
        predicted = np.array([[label in p.detected_emotions for label in classifier.emotion_labels]
                              for p in classifier.predict(emotion_texts)], dtype=int)
        f1[name] = emotion_metrics(targets, predicted, classifier.emotion_labels)["emotion_macro_f1"]
    record = {
        "date": time.strftime("%Y-%m-%d"), "model": args.model, "machine": f"{machine()}, torch {torch.__version__}",
        "torch_threads": torch.get_num_threads(), "rounds": rounds, "paths": results, "serving_process": serving,
        "agreement": {"intent_agreement": round(float(np.mean(np.array(intents_torch) == np.array(intents_onnx))), 4),
                      "n_intent": len(intent_texts), "emotion_macro_f1_torch": round(f1["torch"], 4),
                      "emotion_macro_f1_onnx": round(f1["onnx"], 4), "n_emotion": len(emotion_texts)},
        "command": command_line("latency.py", argv),
    }
    lines = [f"`{record['command']}` on {record['date']}, {record['machine']}.", "",
             f"Medians over {args.rounds} rounds in which the paths take turns (p50 range over the rounds in "
             "brackets); the speed-up is paired within each round.", ""]
    lines += markdown_table(["path", "p50 ms", "p99 ms", "vs pipeline (p50)", "batched msgs/s",
                             "vs pipeline (batched)"], [
        [name, f"{row['p50_ms']:.2f} ({row['p50_ms_range'][0]:.2f}-{row['p50_ms_range'][1]:.2f})",
         f"{row['p99_ms']:.2f}", f"{row['speedup_p50']:.1f}x", f"{row['batched_msgs_per_s']:.0f}",
         f"{row['speedup_batched']:.1f}x"] for name, row in results.items()])
    lines += ["", f"{PLAN}: {rounds[0][PLAN]['plan']} (bot/model/batch_plan.py), one-message conversations "
              "through analyze's engine, mood head included; its intents against the live bot's are in Batch path."]
    a = record["agreement"]
    lines += ["", f"Serving process (load a model, classify 500 messages): ONNX {serving['onnx']['peak_rss_mb']} MB "
              f"peak RSS, loaded in {serving['onnx']['load_seconds']} s; torch {serving['torch']['peak_rss_mb']} MB, "
              f"{serving['torch']['load_seconds']} s.",
              f"ONNX int8 vs torch: intent agreement {a['intent_agreement']:.2%} on {a['n_intent']} validation "
              f"messages; emotion macro-F1 {a['emotion_macro_f1_onnx']:.4f} vs {a['emotion_macro_f1_torch']:.4f} "
              f"on {a['n_emotion']}."]
    publish("latency", "Latency and memory", record, lines)
    return record


if __name__ == "__main__":
    main()
