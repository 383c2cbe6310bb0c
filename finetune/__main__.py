"""python -m finetune COMMAND ...: train, evaluate, export, retrain, upset, download, mood, oos, discover, catalogue,
audit, audit-data, register, promote, rollback, versions; see `python -m finetune COMMAND --help`."""
from __future__ import annotations

import os
import sys

from bot.config import is_set

COMMANDS = {"train": "Fine-tune the intent + emotion model", "evaluate": "Score a model on test files",
            "export": "Add an int8 ONNX graph to a model directory (fast serving)",
            "retrain": "Learn from new transcripts and the Helpline database",
            "upset": "Fit the upset head (frustration, sentiment) of an existing model on real customer text",
            "download": "Fetch the extra labelled customer text of finetune/extra_data.yaml (hash-checked)",
            "mood": "Fit the mood head (in-context frustration, sentiment) of an existing model",
            "oos": "Choose an existing model's out-of-scope score and threshold by cross-validation",
            "discover": "Cluster out-of-scope and uncertain messages into candidate new intents",
            "catalogue": "Write a starter catalogue for a data set's intents (each hands off until you reply)",
            "audit-data": "Likely label errors and near-duplicates in intent training data (confident learning)",
            "audit": "Counterfactual audit: does a name, identity or way of writing change what the model reads",
            "register": "Add a model to the registry, scored on its fixed evaluation set",
            "promote": "Serve a registered version (refused when it is worse, unless --force)",
            "rollback": "Serve the previous version again", "versions": "List the registry's versions"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m finetune COMMAND [options]\n\ncommands:", file=sys.stderr)
        for name, text in COMMANDS.items():
            print(f"  {name:<11} {text}", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if not is_set("HELPLINE_ONLINE"):  # never reach for the Hub unless the user says we are online
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from . import (
        audit_data,
        counterfactual_audit,
        discover,
        download,
        evaluate,
        export,
        mood_fit,
        oos_fit,
        registry_cli,
        retrain,
        scaffold_catalogue,
        train,
        upset_fit,
    )

    commands = {"train": train.main, "evaluate": evaluate.main, "export": export.main, "retrain": retrain.main,
                "discover": discover.main, "mood": mood_fit.main, "oos": oos_fit.main,
                "upset": upset_fit.main, "download": download.main, "catalogue": scaffold_catalogue.main,
                "audit-data": audit_data.main, "audit": counterfactual_audit.main}
    command = commands.get(argv[0]) or (lambda rest: registry_cli.main(argv[0], rest))
    try:
        command(argv[1:])
    except ValueError as exc:  # bad input: data, arguments, model directory. Say what is wrong, no traceback.
        if is_set("HELPLINE_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
