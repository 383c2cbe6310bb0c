"""`python -m bot chat [--model DIR]`: a conversation in the terminal; per turn the reply, the intent, the
emotions and whether it hands off to a person."""
from __future__ import annotations

import os
import sys
import tempfile

from bot.cli import add_model_flags


def add_parser(subparsers, name: str, help: str | None):
    parser = subparsers.add_parser(name, help=help, description=__doc__)
    add_model_flags(parser)
    parser.add_argument("--db", help="SQLAlchemy URL for the conversation (default: a scratch SQLite file)")
    parser.add_argument("--catalogue", default=None, help="intent catalogue YAML (env HELPLINE_CATALOGUE)")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
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
