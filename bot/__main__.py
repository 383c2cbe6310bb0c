"""python -m bot COMMAND: the runtime from a terminal, no UI (also `helpline COMMAND`).

  analyze    every customer message of transcript files in its conversation's context, one JSON line each
  suggest    suggested replies for every agent message of a transcript file
  chat       a conversation: reply, intent, emotion and handoff per turn
  classify   one JSON line per message (batched; progress bar on stderr)
  agents     add, passwd, disable, enable, list agent accounts for the console and the API
  purge      delete conversations past retention, expired sessions

Each command is a module of bot/cli/ (`python -m bot COMMAND --help` for its flags). The database comes from
HELPLINE_DB (or --db, which shows in `ps`).
"""
from __future__ import annotations

import sys

from bot.cli import RUNTIME, run_commands


def main(argv: list[str] | None = None) -> int:
    return run_commands("python -m bot", RUNTIME, argv, description="Helpline runtime commands.")


if __name__ == "__main__":
    sys.exit(main())
