"""The command line: one shape for every command (as Rasa's cli/<command>.py).

Each command is a module of its own with two functions:

    add_parser(subparsers, name, help) -> argparse.ArgumentParser   its flags (kebab-case); set_defaults(run=run)
    run(args)                                                      does the work; a bad input is a ValueError

A table maps each command's name to its module and one-line help: `RUNTIME` below (`python -m bot`),
`finetune.__main__.TRAINING` (`python -m finetune`); `helpline.py` joins both behind `helpline COMMAND`. Only the
module of the command being run is imported, so `--help` and the ONNX serving path stay light.

`run_commands` is the one error wrapper: bad input (ValueError, a missing or unreadable file) is one line on
stderr and exit code 2 (HELPLINE_DEBUG=1 shows the traceback); Ctrl-C exits with 130 and no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

from bot.config import is_set, value


@dataclass(frozen=True)
class Command:
    module: str   # imported only when this command runs
    help: str


RUNTIME = {
    "classify": Command("bot.cli.classify", "classify messages, one JSON line each"),
    "analyze": Command("bot.cli.analyze", "read transcripts' customer messages in context, one JSON line each"),
    "suggest": Command("bot.cli.suggest", "suggested replies for every agent message of a transcript file"),
    "chat": Command("bot.cli.chat", "talk to the bot in the terminal"),
    "agents": Command("bot.cli.agents", "manage agent accounts"),
    "purge": Command("bot.cli.purge", "delete what is past retention (the app also does it daily)"),
}


def offline_unless_told() -> None:
    """Never reach for the Hugging Face Hub unless the user says we are online (HELPLINE_ONLINE=1)."""
    if not is_set("HELPLINE_ONLINE"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_parser(prog: str, commands: dict[str, Command], chosen: str | None, description: str | None = None
                 ) -> argparse.ArgumentParser:
    """Every command is listed in --help; only the ``chosen`` one's module is imported for its flags."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in commands.items():
        if name == chosen:
            importlib.import_module(command.module).add_parser(subparsers, name, command.help)
        else:
            subparsers.add_parser(name, help=command.help)
    return parser


def parse_one(add_parser, name: str, argv: list[str] | None, prog: str) -> argparse.Namespace:
    """One command's flags, for its module's own ``main(argv)`` (what tests call)."""
    parser = argparse.ArgumentParser(prog=prog)
    add_parser(parser.add_subparsers(dest="command", required=True), name, None)
    return parser.parse_args([name, *(sys.argv[1:] if argv is None else argv)])


def run_commands(prog: str, commands: dict[str, Command], argv: list[str] | None = None,
                 description: str | None = None) -> int:
    """Parse ``argv`` and run its command: the one error wrapper of every Helpline command line."""
    argv = sys.argv[1:] if argv is None else argv
    offline_unless_told()
    parser = build_parser(prog, commands, argv[0] if argv else None, description)
    if not argv:   # the commands and what each does, rather than argparse's "COMMAND is required"
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        result = args.run(args)
    except KeyboardInterrupt:   # the command said what it kept and how to go on; no traceback under that
        if is_set("HELPLINE_DEBUG"):
            raise
        return 130
    except (ValueError, OSError) as exc:   # bad input: data, arguments, a model directory, a file
        if is_set("HELPLINE_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) and not isinstance(result, bool) else 0


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """--model and --backend, as every command that reads messages takes them."""
    parser.add_argument("--model", default=value("HELPLINE_MODEL"),
                        help="model directory (env HELPLINE_MODEL; default models/default)")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"],
                        help="inference backend (auto: ONNX when the model directory has the graph)")


def add_db_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="SQLAlchemy URL (prefer env HELPLINE_DB: a flag shows in `ps`; default "
                                     "sqlite:///helpline.db)")


def store_of(args):
    """The conversation store of --db, else of the settings (HELPLINE_DB)."""
    from bot.serving.settings import Settings
    from bot.store.conversations import Store

    return Store(args.db or Settings.from_env().db)
