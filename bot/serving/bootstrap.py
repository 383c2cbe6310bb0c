"""Build the default model on first start, so `python app.py` works on a fresh machine.

Where the GoEmotions dev split is at hand to score models on, the first start makes `HELPLINE_MODEL` a model
registry: a starter model (a short training) serves within minutes, then the full model trains in the background
and is promoted through the registry's gate (no worse on the evaluation set), and hot reload serves it. Without
that split (online, from the Hub) the full model is built before serving, as one plain model directory.

Training runs `python -m finetune ...` in child processes: serving code never imports training code, and the
child's progress bars go straight to the terminal.
"""
from __future__ import annotations

import sys
from pathlib import Path

from bot.config import is_set
from bot.model.format import METADATA_FILE, read_metadata
from bot.registry.versions import is_registry
from bot.serving.settings import Settings


def model_exists(model_dir: str) -> bool:
    """A model directory, or a model registry (which serves one of its versions)."""
    return (Path(model_dir) / METADATA_FILE).is_file() or is_registry(model_dir)


# The first start trades some accuracy for a shorter wait: 3 epochs instead of 5, fewer GoEmotions examples, and
# no R-Drop (which runs every intent batch twice). Retrain with the defaults (docs/training.md) for the best
# scores; the times are in benchmarks/RESULTS.md.
FIRST_START_OPTIONS = ["--epochs", "3", "--emotion-examples-per-epoch", "12000", "--rdrop-alpha", "0"]
# The starter serves while that trains: a few hundred steps, no upset head (frustration is then read from the
# emotion head), so `make run` answers within minutes; the Model page says what it is.
STARTER_OPTIONS = ["--max-steps", "240", "--rdrop-alpha", "0", "--no-upset-head"]
STARTER_NAME = "starter"   # the starter's model version starts with this (its output folder's name)


def train_command(settings: Settings, output: str | None = None, options: list[str] = FIRST_START_OPTIONS
                  ) -> list[str]:
    return [sys.executable, "-m", "finetune", "train", "--intent-data", settings.catalogue,
            "--emotion-data", settings.emotion_data, *options, "--output", output or settings.model_dir]


def evaluation_set(settings: Settings) -> Path | None:
    """The real held-out data the first start's registry scores its models on (GoEmotions dev), if at hand."""
    path = Path(settings.emotion_data) / "dev.tsv"
    return path if path.is_file() else None


def register_command(settings: Settings, model: str, promote: bool = False) -> list[str]:
    """Add ``model`` to the registry at HELPLINE_MODEL (the first version serves; ``promote``: a later one serves
    if the gate passes it)."""
    evaluation = evaluation_set(settings)
    return [sys.executable, "-m", "finetune", "register", "--model", model, "--registry", settings.model_dir,
            *(["--emotion-test", str(evaluation)] if evaluation else []), *(["--promote"] if promote else [])]


def serves_starter(settings: Settings) -> bool:
    """Whether HELPLINE_MODEL is a registry still serving the first start's starter and nothing else."""
    if not is_registry(settings.model_dir):
        return False
    from bot.registry.versions import Registry

    registry = Registry(settings.model_dir)
    versions = registry.versions()
    serving = registry.serving_path()
    if len(versions) != 1 or serving is None:
        return False
    try:
        return read_metadata(serving).get("model_version", "").startswith(STARTER_NAME + "-")
    except (OSError, ValueError):
        return False


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def first_start_estimate(flags: set[str] | None = None, starter: bool = True) -> str:
    """How long the first start takes here before serving (the starter model, or without an evaluation set the
    full model): training uses bfloat16 only where the CPU has it, and float32 takes two to three times as long
    (the ranges come from benchmarks/RESULTS.md)."""
    flags = cpu_flags() if flags is None else flags
    fast, slow, unknown = (("about 2 minutes", "about 3-4 minutes", "2-4 minutes") if starter else
                           ("about 4-6 minutes", "about 10-13 minutes", "4-13 minutes"))
    if flags & {"avx512_bf16", "amx_tile"}:  # what finetune.device.cpu_has_bf16 asks torch about
        return f"{fast} on 2 CPU cores"
    if flags:
        return f"{slow} on 2 CPU cores: this CPU has no bfloat16, so training runs in float32"
    return f"{unknown} on 2 CPU cores, depending on the CPU"


def check_can_build(settings: Settings) -> None:
    """SystemExit saying what to do when there is no model and no data to build one."""
    if not model_exists(settings.model_dir) and not Path(settings.emotion_data).exists() \
            and not is_set("HELPLINE_ONLINE"):
        raise SystemExit(f"No model at {settings.model_dir}, and no GoEmotions data to build one: set "
                         f"HELPLINE_DATA to the folder holding goemotions/original (now {settings.data_dir}), "
                         "set HELPLINE_ONLINE=1 to fetch it from the Hub, or point HELPLINE_MODEL at a model.")
