"""`helpline COMMAND ...`: every Helpline command behind one entry point (the `helpline` console script, or
`python -m helpline`).

    helpline serve [--port 7860 ...]          the app: customers' chat, the agents' console, REST API, widget
    helpline chat | classify | analyze | suggest | agents | purge      the runtime (bot/cli/, bot.cli.RUNTIME)
    helpline train | evaluate | export | retrain | upset | catalogue | register | promote | ...
                                              training and the model registry (finetune.__main__.TRAINING)

Every command but serve is a module with `add_parser` and `run` (bot/cli/__init__.py says the shape); `python
app.py`, `python -m bot ...` and `python -m finetune ...` keep working. Flags are kebab-case everywhere (training's
dataclass flags also take the underscore spelling).
"""
from __future__ import annotations

import sys

from bot.cli import RUNTIME, Command, run_commands
from finetune.__main__ import TRAINING

# serve is listed for --help; main hands it to app.py, which parses its own flags
COMMANDS = {"serve": Command("app", "run the app (UI, REST API, widget); `python app.py`"), **RUNTIME, **TRAINING}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:   # the app parses its own flags (--port, --help, ...)
        import app

        app.main(argv[1:])
        return 0
    return run_commands("helpline", COMMANDS, argv, description="Helpline: every command behind one entry point.")


if __name__ == "__main__":
    sys.exit(main())
