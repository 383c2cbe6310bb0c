"""`python -m bot analyze --transcripts FILE... --output OUT.jsonl [--report DIR] [--resume]`: every customer
message in its conversation's context, one JSON line each (intent, emotions, sentiment, frustration); on this
machine's cores or as a Ray Data job. The transcript format: docs/transcripts.md."""
from __future__ import annotations

import os
import sys

from bot.cli import add_model_flags


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--transcripts", nargs="+", required=True, metavar="FILE",
                        help="transcript files: JSON Lines (one conversation a line) or CSV (one message a row); "
                             "the format: docs/transcripts.md")
    parser.add_argument("--output", required=True, metavar="OUT.jsonl", help="where to write the JSON lines")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="messages per inference batch (default: the fastest for this CPU)")
    parser.add_argument("--processes", type=int, default=None,
                        help="worker processes on this machine, each with its own model (default: the fastest for "
                             "this CPU; 1 runs in this process)")
    parser.add_argument("--threads", type=int, default=None,
                        help="ONNX Runtime threads per process (default: the fastest for this CPU)")
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                        help="run as a Ray Data job: local Ray without ADDRESS, else that cluster ('auto', "
                             "'ray://head:10001'); needs `pip install -r requirements-ray.txt`")
    parser.add_argument("--ray-workers", type=int, default=None,
                        help="with --ray: actors, each with its own model (default: the cluster's CPUs)")
    parser.add_argument("--report", metavar="DIR",
                        help="also write DIR/conversations.csv (one row per conversation) and DIR/report.html "
                             "(plots, at-risk conversations, themes)")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                        help="where the encoder runs: cpu (default, the int8 ONNX graph), cuda (the torch weights on "
                             "a GPU), auto (cuda when torch sees one)")
    parser.add_argument("--redact", action="store_true",
                        help="replace PII (emails, phone and card numbers, ...) with placeholders before the model "
                             "reads the messages, as the app does; the output then holds no PII either")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run (OUT.jsonl.part) after its last complete conversation")
    parser.set_defaults(run=run)
    return parser


def batch_plan(args):
    """How analyze runs the model: the fastest plan for this CPU (bot/model/batch_plan.py) unless the flags say."""
    from bot.model.batch_plan import BATCH_SIZE, BatchPlan, plan_for_this_cpu

    if args.device != "cpu":   # torch on a GPU: one process, big batches
        plan = BatchPlan(processes=1, threads=None, batch_size=64)
    elif args.ray is not None:   # Ray runs the actors; each is single-threaded and batches as this CPU's plan does
        plan = BatchPlan(processes=1, threads=1, batch_size=BATCH_SIZE)
    else:
        plan = plan_for_this_cpu()
    return plan.override(processes=args.processes, batch_size=args.batch_size, threads=args.threads)


def engine_for(args, plan, classifier):
    """None (this process), a local process pool, or a Ray job (bot/batch/engines.py)."""
    from bot.batch import engines

    if args.ray is not None:
        return engines.ray_job(args.model, None if args.ray == "local" else args.ray, args.ray_workers,
                                       classifier.backend, plan.batch_size, plan.threads or 1)
    if plan.processes > 1:
        return engines.ProcessPool(args.model, plan.processes, classifier.backend, plan.batch_size,
                                            plan.threads or 1)
    return None


def run(args) -> int:
    from pathlib import Path

    from bot.batch.analyze import analyze
    from bot.model.helpline_model import HelplineModel

    plan = batch_plan(args)
    classifier = HelplineModel.from_pretrained(args.model, backend=args.backend, device=args.device,
                                               threads=plan.threads)
    if classifier.upset is None and classifier.mood is None:
        print(f"note: {args.model} has no upset head; frustration is read from the emotion head alone (fit one on "
              "real customer text with `python -m finetune upset --model DIR`)", file=sys.stderr)
    partial = Path(args.output + ".part")   # renamed when complete: a half-written file never looks finished
    if args.resume and not partial.exists():
        print(f"note: no interrupted run at {partial}; starting from the beginning", file=sys.stderr)
    report = None
    if args.report:
        from bot.batch.report import Report

        report = Report(args.report)
    try:
        written = analyze(classifier, args.transcripts, partial, batch_size=plan.batch_size, report=report,
                          resume=args.resume, engine=engine_for(args, plan, classifier), redact_pii=args.redact)
    except BaseException:
        if report is not None:
            report.abandon()
        if partial.exists() and partial.stat().st_size == 0:
            partial.unlink()
        elif partial.exists():
            print(f"interrupted: {partial} keeps what was done; run the same command with --resume to go on",
                  file=sys.stderr)
        raise   # Ctrl-C: bot/cli's wrapper exits with 130 and no traceback under the hint above
    os.replace(partial, args.output)
    print(f"{written} customer messages written to {args.output}", file=sys.stderr)
    if report is not None:
        print(f"report: {report.finish()} and {report.directory / 'conversations.csv'}", file=sys.stderr)
    return 0
