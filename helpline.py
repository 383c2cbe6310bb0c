"""`helpline COMMAND ...`: every Helpline command behind one entry point (the `helpline` console script, or
`python -m helpline`).

    helpline serve [--port 7860 ...]          the app: customers' chat, the agents' console, REST API, widget
    helpline chat | classify | analyze | suggest | agents | purge      the runtime (bot/__main__.py)
    helpline train | evaluate | export | retrain | upset | catalogue | register | promote | ...
                                              training and the model registry (finetune/__main__.py)

`python app.py`, `python -m bot ...` and `python -m finetune ...` keep working; this only dispatches. Flags are
kebab-case everywhere (`--intent-data`; training's argument parser also takes the underscore spelling).
"""
from __future__ import annotations

import sys

RUNTIME = ("chat", "classify", "analyze", "suggest", "agents", "purge")


def usage() -> str:
    from finetune.__main__ import COMMANDS as TRAINING

    lines = ["usage: helpline COMMAND [options]   (helpline COMMAND --help for its options)", "",
             "  serve        run the app (UI, REST API, widget); `python app.py`",
             "  chat, classify, analyze, suggest, agents, purge: the runtime; `python -m bot COMMAND`"]
    lines += [f"  {name:<12} {text}" for name, text in TRAINING.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "serve":
        import app

        app.main(rest)
        return 0
    if command in RUNTIME:
        from bot.__main__ import main as runtime

        return runtime(argv)
    from finetune.__main__ import COMMANDS
    from finetune.__main__ import main as training

    if command in COMMANDS:
        return training(argv)
    print(f"helpline: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
