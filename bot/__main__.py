"""python -m bot COMMAND: the runtime from a terminal, no UI.

  chat       [--model DIR]                    a conversation: reply, intent, emotion and handoff per turn
  classify   [--model DIR] TEXT ... | --file FILE
                                              one JSON line per message (batched; progress bar on stderr)
  agents add NAME [--password-stdin]          create an agent account for the console and the API
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile

if not os.environ.get("HELPLINE_ONLINE"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _model_arg(parser):
    parser.add_argument("--model", default=os.environ.get("HELPLINE_MODEL", "models/default"),
                        help="model directory (env HELPLINE_MODEL; default models/default)")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                        help="inference backend (auto: ONNX when the model directory has the graph)")


def classify(args) -> int:
    from tqdm import tqdm

    from .classifier import Classifier

    if args.file:
        with open(args.file, encoding="utf-8") as handle:
            texts = [line.rstrip("\n") for line in handle]
    else:
        texts = args.texts
    if not texts:
        raise ValueError("nothing to classify: give messages as arguments or --file FILE (one message a line)")
    classifier = Classifier.load(args.model, backend=args.backend)
    out = sys.stdout
    with tqdm(total=len(texts), unit="msg", file=sys.stderr, disable=len(texts) < 1000) as bar:
        for start in range(0, len(texts), args.chunk):
            chunk = texts[start:start + args.chunk]
            keep = [i for i, t in enumerate(chunk) if t.strip()]  # blank lines get a line too, with an error
            predictions = dict(zip(keep, classifier.predict([chunk[i] for i in keep], batch_size=args.batch_size)))
            for i, text in enumerate(chunk):
                p = predictions.get(i)
                row = ({"text": text, "error": "empty message"} if p is None else
                       {"text": text, "intent": p.intent, "confidence": p.confidence,
                        "emotions": {e: p.emotions[e] for e in p.detected_emotions},
                        "sentiment": p.sentiment, "frustration": p.frustration})
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            bar.update(len(chunk))
    return 0


def chat(args) -> int:
    from intents import load_catalogue

    from .classifier import Classifier
    from .policy import DialoguePolicy, PolicyConfig
    from .service import Helpline
    from .settings import Settings
    from .store import Store

    settings = Settings.from_env()
    db = args.db or f"sqlite:///{os.path.join(tempfile.gettempdir(), 'helpline-chat.db')}"
    catalogue = load_catalogue(args.catalogue or settings.catalogue)
    helpline = Helpline(Classifier.load(args.model, backend=args.backend), catalogue, Store(db),
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


def agents(args) -> int:
    from .store import Store

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    from .settings import Settings

    agent = Store(args.db or Settings.from_env().db).add_agent(args.name, password)
    print(f"agent {agent.name} added (id {agent.id})")
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
    p = commands.add_parser("chat", help="talk to the bot in the terminal")
    _model_arg(p)
    p.add_argument("--db", help="SQLAlchemy URL for the conversation (default: a scratch SQLite file)")
    p.add_argument("--catalogue", default=None, help="intent catalogue YAML (env HELPLINE_CATALOGUE)")
    p.set_defaults(run=chat)
    p = commands.add_parser("agents", help="manage agent accounts")
    sub = p.add_subparsers(dest="action", required=True)
    add = sub.add_parser("add", help="add an agent (asks for the password)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--db", help="SQLAlchemy URL (env HELPLINE_DB; default sqlite:///helpline.db)")
    add.set_defaults(run=agents)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:
        if os.environ.get("HELPLINE_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
