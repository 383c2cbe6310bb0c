"""The batch path's options on this CPU: graph (int8 / fp32), processes, threads, batch size, length bucketing.

    python benchmarks/batch_speed.py --model models/b77 [--intent-texts FILE.csv] [--texts 4000]

Every option classifies the same messages through `python -m bot analyze`'s engines (one-message
conversations: the mood head runs too), each in a fresh process, against the plain `transformers` pipeline
(batched, 64 a call) measured in the same run, before and after the options. Each option's intents are
compared with the live bot's (one message a call, the int8 graph). Writes benchmarks/results/batch_speed.json
and the table in benchmarks/RESULTS.md; the plan `analyze` uses on this CPU (bot/model/batch_plan.py) is
marked. The fp32 graph is the same fused graph before quantization, written into a scratch copy of the model.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.report import command_line, machine, markdown_table, publish, validation_texts

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = "transformers pipeline (torch)"


def option_name(graph: str, processes: int, threads: int, batch: int, bucketing: bool = True) -> str:
    return f"{graph}, {processes} proc x {threads} thr, batch {batch}{'' if bucketing else ', unsorted'}"


def run_option(model: str, texts: list[str], processes: int, threads: int, batch: int, bucketing: bool) -> dict:
    """Throughput of one option in this process (and its pool), after a warm-up; its intents in order."""
    from bot.batch import engines
    from bot.batch.analyze import analyzed
    from bot.model.helpline_model import HelplineModel

    conversations = [{"id": str(i), "messages": [{"role": "customer", "text": t}]} for i, t in enumerate(texts)]
    if not bucketing:   # the batches in input order, not sorted by token count
        import bot.model.prediction as prediction

        original = prediction.batched
        prediction.batched = lambda run, items, *a, length=len: original(run, items, *a, length=lambda _: 0)
        import bot.model.classifier as classifier_module
        classifier_module.batched = prediction.batched
    if processes == 1:
        classifier = HelplineModel.from_pretrained(model, backend="onnx", threads=threads)
        engine, kept = (lambda stream: analyzed(classifier, stream, batch)), contextlib.nullcontext()
    else:
        engine = kept = engines.ProcessPool(model, processes, "onnx", batch, threads)
    with kept:   # the pool's processes stay up, their models loaded, from the warm-up on
        list(engine(conversations[:256]))
        started = time.perf_counter()
        rows = [row for _, rows in engine(conversations) for row in rows]
        seconds = time.perf_counter() - started
    return {"msgs_per_s": round(len(texts) / seconds, 1), "intents": [row["intent"] for row in rows]}


def run_pipeline(model: str, texts: list[str]) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from bot.model.format import read_metadata

    n = len(read_metadata(Path(model))["intent_labels"])
    hf = AutoModelForSequenceClassification.from_pretrained(model, num_labels=n)
    pipe = pipeline("text-classification", model=hf, tokenizer=AutoTokenizer.from_pretrained(model), device=-1)
    pipe(texts[:64], batch_size=64)
    started = time.perf_counter()
    pipe(texts, batch_size=64)
    return {"msgs_per_s": round(len(texts) / (time.perf_counter() - started), 1)}


def live_bot_intents(model: str, texts: list[str]) -> list[str]:
    from bot.model.helpline_model import HelplineModel

    classifier = HelplineModel.from_pretrained(model, backend="onnx")
    return [classifier.predict(text).intent for text in texts]


def fp32_copy(model: str, into: Path) -> str:
    """A scratch copy of the model directory whose graph is the fused float graph (not quantized)."""
    import torch

    from bot import HelplineModel
    from bot.model.format import ONNX_FILE
    from finetune.export import _fused

    shutil.copytree(model, into)
    helpline = HelplineModel.from_pretrained(model, backend="torch")
    helpline.network.encoder.set_attn_implementation("eager")
    with torch.no_grad():
        fused = _fused(helpline.network, False, helpline.tokenize(["where is my order", "hi"]), into / "f.onnx")
    os.replace(fused or into / "f.onnx", into / ONNX_FILE)
    return str(into)


def in_child(kind: str, model: str, texts_file: Path, *numbers) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", kind, "--model", model, "--texts-file",
                          str(texts_file), *map(str, numbers)], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{kind} {numbers} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def options(cores: int) -> list[tuple]:
    """(graph, processes, threads, batch, bucketing): each knob varied around the plan's neighbourhood."""
    layouts = sorted({(1, cores), (1, 1), (cores, 1)})
    chosen = [(g, p, t, 64, True) for g in ("int8", "fp32") for p, t in layouts]
    chosen += [("int8", cores, 1, b, True) for b in (8, 16, 32, 128)]
    chosen += [("int8", cores, 1, 64, False), ("int8", 1, cores, 64, False)]
    return chosen


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned Helpline model directory with its ONNX graph")
    parser.add_argument("--intent-texts", help="intent CSV whose texts are classified (default: Banking77 val)")
    parser.add_argument("--data", default=os.environ.get("HELPLINE_DATA", str(ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--texts", type=int, default=4000, help="messages per option")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", help=argparse.SUPPRESS)
    parser.add_argument("numbers", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        texts = json.loads(Path(args.texts_file).read_text())
        if args.worker == "pipeline":
            print(json.dumps(run_pipeline(args.model, texts)))
        elif args.worker == "live":
            print(json.dumps({"intents": live_bot_intents(args.model, texts)}))
        else:
            processes, threads, batch, bucketing = map(int, args.numbers)
            print(json.dumps(run_option(args.model, texts, processes, threads, batch, bool(bucketing))))
        return {}

    from bot.model.batch_plan import plan_for_this_cpu, usable_cores

    args.emotion_test = None
    intent_texts = validation_texts(args)[0]
    texts = (intent_texts * (args.texts // len(intent_texts) + 1))[:args.texts]
    work = Path(tempfile.mkdtemp(prefix="helpline-batch-"))
    (work / "texts.json").write_text(json.dumps(texts))
    graphs = {"int8": args.model, "fp32": fp32_copy(args.model, work / "fp32")}
    live = in_child("live", args.model, work / "texts.json")["intents"]
    pipeline = [in_child("pipeline", args.model, work / "texts.json")["msgs_per_s"]]
    print(PIPELINE, pipeline[0], "msgs/s", flush=True)
    plan, cores = plan_for_this_cpu(), usable_cores()
    rows = {}
    for graph, processes, threads, batch, bucketing in options(cores):
        name = option_name(graph, processes, threads, batch, bucketing)
        result = in_child("option", graphs[graph], work / "texts.json", processes, threads, batch, int(bucketing))
        agreement = sum(a == b for a, b in zip(result.pop("intents"), live)) / len(live)
        rows[name] = {**result, "intent_agreement_with_live_bot": round(agreement, 4),
                      "graph": graph, "processes": processes, "threads": threads, "batch": batch,
                      "bucketing": bucketing}
        print(name, rows[name], flush=True)
    pipeline.append(in_child("pipeline", args.model, work / "texts.json")["msgs_per_s"])
    baseline = sum(pipeline) / 2
    for row in rows.values():
        row["vs_pipeline"] = round(row["msgs_per_s"] / baseline, 2)
    planned = option_name("int8", plan.processes, plan.threads or cores, plan.batch_size)
    record = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "model": args.model, "messages": len(texts),
              "pipeline_msgs_per_s": pipeline, "options": rows, "plan": planned,
              "command": command_line("batch_speed.py", argv)}
    lines = [f"`{record['command']}` on {record['date']}, {record['machine']}.", "",
             f"{len(texts)} messages per option; the pipeline ran before and after the options "
             f"({pipeline[0]:.0f} and {pipeline[1]:.0f} msgs/s, their mean is the baseline). **Bold**: the plan "
             "`analyze` picks on this CPU.", ""]
    lines += markdown_table(["option", "msgs/s", "vs pipeline", "intents = live bot"], [
        [f"**{name}**" if name == planned else name, f"{row['msgs_per_s']:.0f}", f"{row['vs_pipeline']:.2f}x",
         f"{row['intent_agreement_with_live_bot']:.2%}"] for name, row in rows.items()])
    publish("batch_speed", "Batch path", record, lines)
    shutil.rmtree(work, ignore_errors=True)
    return record


if __name__ == "__main__":
    main()
