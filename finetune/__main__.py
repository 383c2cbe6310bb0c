"""python -m finetune COMMAND ...: training, evaluation and the model registry (also `helpline COMMAND`).

Each command is a module of finetune/ with `add_parser` and `run` (bot/cli's one shape); `TRAINING` below names
them. `python -m finetune COMMAND --help` gives a command's flags."""
from __future__ import annotations

import sys

from bot.cli import Command, run_commands

_REGISTRY = "finetune.registry_cli"
TRAINING = {
    "train": Command("finetune.train", "Fine-tune the intent + emotion model"),
    "evaluate": Command("finetune.evaluate", "Score a model on test files"),
    "export": Command("finetune.export", "Add an int8 ONNX graph to a model directory (fast serving)"),
    "retrain": Command("finetune.retrain", "Learn from new transcripts and the Helpline database"),
    "upset": Command("finetune.upset_fit",
                     "Fit the upset head (frustration, sentiment) of an existing model on real customer text"),
    "download": Command("finetune.download",
                        "Fetch the extra labelled customer text of finetune/extra_data.yaml (hash-checked)"),
    "mood": Command("finetune.mood_fit", "Fit the mood head (in-context frustration, sentiment) of an existing model"),
    "oos": Command("finetune.oos_fit",
                   "Choose an existing model's out-of-scope score and threshold by cross-validation"),
    "spelling": Command("finetune.spelling_fit",
                        "Fit an existing model's spelling corrector (a typing slip put right) on its intent data"),
    "discover": Command("finetune.discover", "Cluster out-of-scope and uncertain messages into candidate new intents"),
    "catalogue": Command("finetune.scaffold_catalogue",
                         "Write a starter catalogue for a data set's intents (each hands off until you reply)"),
    "audit-data": Command("finetune.audit_data",
                          "Likely label errors and near-duplicates in intent training data (confident learning)"),
    "audit": Command("finetune.counterfactual_audit",
                     "Counterfactual audit: does a name, identity or way of writing change what the model reads"),
    "register": Command(_REGISTRY, "Add a model to the registry, scored on its fixed evaluation set"),
    "promote": Command(_REGISTRY, "Serve a registered version (refused when it is worse, unless --force)"),
    "rollback": Command(_REGISTRY, "Serve the previous version again"),
    "versions": Command(_REGISTRY, "List the registry's versions"),
}


def main(argv: list[str] | None = None) -> int:
    return run_commands("python -m finetune", TRAINING, argv,
                        description="Helpline training, evaluation and model registry commands.")


if __name__ == "__main__":
    sys.exit(main())
