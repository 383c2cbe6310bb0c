"""python -m bot COMMAND: the runtime from a terminal, no UI.

  analyze    --transcripts FILE... --output OUT.jsonl [--model DIR] [--report DIR] [--resume]
                                              every customer message in its conversation's context, one JSON
                                              line each (intent, emotions, sentiment, frustration)
  suggest    --transcripts HISTORY... --for FILE --output OUT.jsonl [--k 3] [--model DIR]
                                              suggested replies for every agent message of FILE, from the
                                              messages before it and the replies agents sent in HISTORY
  chat       [--model DIR]                    a conversation: reply, intent, emotion and handoff per turn
  classify   [--model DIR] TEXT ... | --file FILE
                                              one JSON line per message (batched; progress bar on stderr)
  agents add NAME [--role admin] [--password-stdin]
                                              create an agent account for the console and the API
  agents passwd NAME [--password-stdin]       set a new password (the agent's sessions end)
  agents disable NAME | enable NAME           lock an account out (its sessions end) or let it in again
  agents list                                 names, roles, disabled
  purge [--days N]                            delete conversations past retention, expired sessions
The database comes from HELPLINE_DB (or --db, which shows in `ps`).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile

from bot.config import is_set, value  # noqa: E402 - no imports of its own: the offline switch below stays first

if not is_set("HELPLINE_ONLINE"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _model_arg(parser):
    parser.add_argument("--model", default=value("HELPLINE_MODEL"),
                        help="model directory (env HELPLINE_MODEL; default models/default)")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                        help="inference backend (auto: ONNX when the model directory has the graph)")


def classify(args) -> int:
    from tqdm import tqdm

    from bot.model.helpline_model import HelplineModel

    if args.file:
        with open(args.file, encoding="utf-8") as handle:
            texts = [line.rstrip("\n") for line in handle]
    else:
        texts = args.texts
    if not texts:
        raise ValueError("nothing to classify: give messages as arguments or --file FILE (one message a line)")
    classifier = HelplineModel.from_pretrained(args.model, backend=args.backend)
    out = sys.stdout
    with tqdm(total=len(texts), unit="msg", file=sys.stderr, disable=len(texts) < 1000) as bar:
        for start in range(0, len(texts), args.chunk):
            chunk = texts[start:start + args.chunk]
            keep = [i for i, t in enumerate(chunk) if t.strip()]  # blank lines get a line too, with an error
            predictions = dict(zip(keep, classifier.predict([chunk[i] for i in keep], batch_size=args.batch_size)))
            for i, text in enumerate(chunk):
                p = predictions.get(i)
                row = {"text": text, "error": "empty message"} if p is None else {"text": text, **p.summary()}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            bar.update(len(chunk))
    return 0


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


def analyze_command(args) -> int:
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
    except BaseException as exc:
        if report is not None:
            report.abandon()
        if partial.exists() and partial.stat().st_size == 0:
            partial.unlink()
        elif partial.exists():
            print(f"interrupted: {partial} keeps what was done; run the same command with --resume to go on",
                  file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt) and not is_set("HELPLINE_DEBUG"):
            return 130   # Ctrl-C: the hint above is the whole answer, not a traceback under it
        raise
    os.replace(partial, args.output)
    print(f"{written} customer messages written to {args.output}", file=sys.stderr)
    if report is not None:
        print(f"report: {report.finish()} and {report.directory / 'conversations.csv'}", file=sys.stderr)
    return 0


def suggest_command(args) -> int:
    from bot.assist.suggest_command import run

    return run(args)


def chat(args) -> int:
    from bot.conversation.policy import DialoguePolicy, PolicyConfig
    from bot.conversation.service import Helpline
    from bot.model.helpline_model import HelplineModel
    from bot.serving.settings import Settings
    from bot.store.conversations import Store
    from intents import load_catalogue

    settings = Settings.from_env()
    db = args.db or f"sqlite:///{os.path.join(tempfile.gettempdir(), 'helpline-chat.db')}"
    catalogue = load_catalogue(args.catalogue or settings.catalogue)
    helpline = Helpline(HelplineModel.from_pretrained(args.model, backend=args.backend), catalogue, Store(db),
                        DialoguePolicy(catalogue, PolicyConfig.load(settings.policy)))
    print("Helpline chat. Type a message; an empty line or Ctrl-D quits.\n", file=sys.stderr)
    conversation_id = None
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        try:
            turn = helpline.handle(text, conversation_id)
        except ValueError as exc:
            print(f"  ! {exc}")
            continue
        conversation_id = turn.conversation_id
        if turn.reply:
            print(f"bot> {turn.reply}")
        for option in turn.quick_replies:
            print(f"     [{option}]")
        emotions = ", ".join(f"{k} {v:.2f}" for k, v in turn.emotions.items()) or "none"
        print(f"     intent {turn.intent} ({turn.confidence:.0%}) | action {turn.action} | {turn.sentiment}, "
              f"frustration {turn.frustration:.2f} | emotions {emotions}"
              + (f" | HANDOFF: {turn.handoff_reason}" if turn.handoff else ""))
    return 0


def _store(args):
    from bot.serving.settings import Settings
    from bot.store.conversations import Store

    return Store(args.db or Settings.from_env().db)


def _password(args) -> str:
    return sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")


def agents(args) -> int:
    store = _store(args)
    if args.action == "add":
        agent = store.add_agent(args.name, _password(args), role=args.role)
        print(f"agent {agent.name} added (id {agent.id}, role {agent.role})")
    elif args.action == "passwd":
        store.set_password(args.name, _password(args))
        print(f"password of {args.name} changed; their sessions ended")
    elif args.action in ("disable", "enable"):
        store.set_disabled(args.name, args.action == "disable")
        print(f"agent {args.name} {args.action}d")
    else:
        for agent in store.agents():
            print(f"{agent.name}\t{agent.role}\t{'disabled' if agent.disabled else 'active'}")
    return 0


def purge_command(args) -> int:
    from bot.store.retention import purge

    done = purge(_store(args), args.days)
    print(f"deleted {done.conversations} conversations, {done.sessions} agent sessions, {done.receipts} turn "
          "receipts")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Helpline runtime commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("classify", help="classify messages, one JSON line each")
    _model_arg(p)
    p.add_argument("texts", nargs="*", help="messages to classify")
    p.add_argument("--file", help="a text file with one message a line")
    p.add_argument("--batch-size", type=int, default=64, help="messages per inference batch")
    p.add_argument("--chunk", type=int, default=4096, help="messages read and written per step")
    p.set_defaults(run=classify)
    p = commands.add_parser("analyze", help="read transcripts' customer messages in context, one JSON line each")
    _model_arg(p)
    p.add_argument("--transcripts", nargs="+", required=True, metavar="FILE",
                   help="transcript files: JSON Lines (one conversation a line) or CSV (one message a row); "
                        "the format: docs/transcripts.md")
    p.add_argument("--output", required=True, metavar="OUT.jsonl", help="where to write the JSON lines")
    p.add_argument("--batch-size", type=int, default=None,
                   help="messages per inference batch (default: the fastest for this CPU)")
    p.add_argument("--processes", type=int, default=None,
                   help="worker processes on this machine, each with its own model (default: the fastest for "
                        "this CPU; 1 runs in this process)")
    p.add_argument("--threads", type=int, default=None,
                   help="ONNX Runtime threads per process (default: the fastest for this CPU)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run as a Ray Data job: local Ray without ADDRESS, else that cluster ('auto', "
                        "'ray://head:10001'); needs `pip install -r requirements-ray.txt`")
    p.add_argument("--ray-workers", type=int, default=None,
                   help="with --ray: actors, each with its own model (default: the cluster's CPUs)")
    p.add_argument("--report", metavar="DIR", help="also write DIR/conversations.csv (one row per conversation) "
                                                   "and DIR/report.html (plots, at-risk conversations, themes)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                   help="where the encoder runs: cpu (default, the int8 ONNX graph), cuda (the torch weights on a "
                        "GPU), auto (cuda when torch sees one)")
    p.add_argument("--redact", action="store_true",
                   help="replace PII (emails, phone and card numbers, ...) with placeholders before the model reads "
                        "the messages, as the app does; the output then holds no PII either")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (OUT.jsonl.part) after its last complete conversation")
    p.set_defaults(run=analyze_command)
    p = commands.add_parser("suggest", help="suggested replies for every agent message of a transcript file")
    _model_arg(p)
    p.add_argument("--transcripts", nargs="+", required=True, metavar="HISTORY",
                   help="transcripts whose agent replies are suggested (JSONL or CSV; docs/transcripts.md)")
    p.add_argument("--for", dest="for_file", required=True, metavar="FILE",
                   help="transcripts to suggest for: every agent message gets suggestions from what came before it")
    p.add_argument("--output", required=True, metavar="OUT.jsonl", help="one JSON line per agent message")
    p.add_argument("--k", type=int, default=3, help="suggestions per message")
    p.add_argument("--catalogue", default=None, help="intent catalogue YAML whose replies are candidates too")
    p.set_defaults(run=suggest_command)
    p = commands.add_parser("chat", help="talk to the bot in the terminal")
    _model_arg(p)
    p.add_argument("--db", help="SQLAlchemy URL for the conversation (default: a scratch SQLite file)")
    p.add_argument("--catalogue", default=None, help="intent catalogue YAML (env HELPLINE_CATALOGUE)")
    p.set_defaults(run=chat)
    p = commands.add_parser("agents", help="manage agent accounts")
    sub = p.add_subparsers(dest="action", required=True)
    db_help = "SQLAlchemy URL (prefer env HELPLINE_DB: a flag shows in `ps`; default sqlite:///helpline.db)"
    for action, text in (("add", "add an agent (asks for the password)"), ("passwd", "set a new password"),
                         ("disable", "lock an account out"), ("enable", "let a disabled account in again"),
                         ("list", "list the accounts")):
        one = sub.add_parser(action, help=text)
        if action != "list":
            one.add_argument("name")
        if action in ("add", "passwd"):
            one.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
        if action == "add":
            one.add_argument("--role", choices=("agent", "admin"), default="agent",
                             help="admin: may also retrain, promote and roll back models")
        one.add_argument("--db", help=db_help)
        one.set_defaults(run=agents)
    p = commands.add_parser("purge", help="delete what is past retention (the app also does it daily)")
    p.add_argument("--days", type=int, default=int(value("HELPLINE_RETENTION_DAYS")),
                   help="delete conversations not updated for this many days (env HELPLINE_RETENTION_DAYS; "
                        "0 keeps them)")
    p.add_argument("--db", help=db_help)
    p.set_defaults(run=purge_command)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:
        if is_set("HELPLINE_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
