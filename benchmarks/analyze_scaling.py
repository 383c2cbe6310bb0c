"""`python -m bot analyze` end to end on a transcript file: one process, a process per core, and Ray Data with
1 and 2 workers, against the plain `transformers` pipeline reading the same customer messages, in one run.

    python benchmarks/analyze_scaling.py --model models/b77 [--transcripts FILE.jsonl] [--conversations 2000]

Each engine runs the real command in a fresh process (model loading, Ray start-up and writing included); the
outputs must be identical, byte for byte. Cost per million messages is in CPU-core hours (wall time x cores
used), the unit a cloud bill is in. Writes benchmarks/results/analyze_scaling.json and the RESULTS.md table.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.report import command_line, machine, markdown_table, publish

ROOT = Path(__file__).resolve().parent.parent
ENGINES = {   # name: (flags, cores used)
    "one process, 1 thread": (["--processes", "1", "--threads", "1"], 1),
    "one process, 2 threads": (["--processes", "1", "--threads", "2"], 2),
    "2 processes (the plan)": (["--processes", "2"], 2),
    "Ray Data, 1 worker": (["--ray", "--ray-workers", "1"], 1),
    "Ray Data, 2 workers": (["--ray", "--ray-workers", "2"], 2),
}

PIPELINE = """
import json, sys, time
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
from bot.model.format import read_metadata
from pathlib import Path
model, texts = sys.argv[1], json.load(open(sys.argv[2]))
started = time.perf_counter()
n = len(read_metadata(Path(model))["intent_labels"])
hf = AutoModelForSequenceClassification.from_pretrained(model, num_labels=n)
pipe = pipeline("text-classification", model=hf, tokenizer=AutoTokenizer.from_pretrained(model), device=-1)
pipe(texts, batch_size=64)
print(time.perf_counter() - started)
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned Helpline model directory with its ONNX graph")
    parser.add_argument("--data", default=os.environ.get("HELPLINE_DATA", str(ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--transcripts", help="a transcript JSONL file (default: STAR under --data)")
    parser.add_argument("--conversations", type=int, default=0, help="use only the first N conversations (0: all)")
    args = parser.parse_args(argv)
    source = Path(args.transcripts or Path(args.data) / "transcripts" / "star.jsonl")
    work = Path(tempfile.mkdtemp(prefix="helpline-scaling-"))
    sample = work / "transcripts.jsonl"
    with source.open(encoding="utf-8") as handle:
        sample.write_text("".join(islice(handle, args.conversations or None)), encoding="utf-8")
    texts = [m["text"] for line in sample.open(encoding="utf-8") for m in json.loads(line)["messages"]
             if m["role"] == "customer" and m["text"].strip()]
    (work / "texts.json").write_text(json.dumps(texts))
    rows, outputs = {}, {}
    for name, (flags, cores) in ENGINES.items():
        out = work / f"{len(rows)}.jsonl"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bot", "analyze", "--model", args.model, "--transcripts",
                               str(sample), "--output", str(out), *flags], cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{name} failed: {done.stderr[-2000:]}")
        outputs[name] = out.read_bytes()
        rows[name] = {"seconds": round(seconds, 1), "msgs_per_s": round(len(texts) / seconds, 1), "cores": cores}
        print(name, rows[name], flush=True)
    done = subprocess.run([sys.executable, "-c", PIPELINE, args.model, str(work / "texts.json")], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    seconds = float(done.stdout.split()[-1])
    rows["transformers pipeline (intent only, no context)"] = {"seconds": round(seconds, 1), "cores": 2,
                                                               "msgs_per_s": round(len(texts) / seconds, 1)}
    baseline = rows["transformers pipeline (intent only, no context)"]["msgs_per_s"]
    for row in rows.values():
        row["vs_pipeline"] = round(row["msgs_per_s"] / baseline, 2)
        row["core_hours_per_million"] = round(1e6 / row["msgs_per_s"] * row["cores"] / 3600, 2)
    first = outputs["one process, 1 thread"]
    identical = all(output == first for output in outputs.values())
    ray_speedup = round(rows["Ray Data, 2 workers"]["msgs_per_s"] / rows["Ray Data, 1 worker"]["msgs_per_s"], 2)
    record = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "model": args.model,
              "transcripts": str(source), "conversations": sum(1 for _ in sample.open()), "messages": len(texts),
              "engines": rows, "outputs_identical": identical, "ray_2_vs_1_workers": ray_speedup,
              "command": command_line("analyze_scaling.py", argv)}
    lines = [f"`{record['command']}` on {record['date']}, {record['machine']}.", "",
             f"{record['conversations']} conversations, {len(texts)} customer messages; wall time of the whole "
             f"command (loading, Ray start-up, writing). Outputs identical across engines: {identical}. Ray with "
             f"2 workers vs 1: {ray_speedup}x.", ""]
    lines += markdown_table(["engine", "seconds", "msgs/s", "vs pipeline", "cores", "core-hours / 1M msgs"], [
        [name, f"{row['seconds']:.1f}", f"{row['msgs_per_s']:.0f}", f"{row['vs_pipeline']:.2f}x", row["cores"],
         f"{row['core_hours_per_million']:.2f}"] for name, row in rows.items()])
    publish("analyze_scaling", "Analyze at scale", record, lines)
    if not identical:
        raise SystemExit("the engines' outputs differ")
    return record


if __name__ == "__main__":
    main()
