"""Build the default model on first start, so `python app.py` works on a fresh machine.

Training runs `python -m finetune train` in a child process: serving code never imports training code,
and the child's progress bars go straight to the terminal.
"""
from __future__ import annotations

import sys
from pathlib import Path

from bot.config import is_set
from bot.model.format import METADATA_FILE
from bot.registry.versions import is_registry
from bot.serving.settings import Settings


def model_exists(model_dir: str) -> bool:
    """A model directory, or a model registry (which serves one of its versions)."""
    return (Path(model_dir) / METADATA_FILE).is_file() or is_registry(model_dir)


# The first start trades some accuracy for a shorter wait: 3 epochs instead of 5, fewer GoEmotions examples, and
# no R-Drop (which runs every intent batch twice). Retrain with the defaults (docs/training.md) for the best
# scores; the times are in benchmarks/RESULTS.md.
FIRST_START_OPTIONS = ["--epochs", "3", "--emotion-examples-per-epoch", "12000", "--rdrop-alpha", "0"]


def train_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "finetune", "train", "--intent-data", settings.catalogue,
            "--emotion-data", settings.emotion_data, *FIRST_START_OPTIONS, "--output", settings.model_dir]


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (Linux); empty where they cannot be read."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    return {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split(":", 1)[1].split()}


def first_start_estimate(flags: set[str] | None = None) -> str:
    """How long the first-start build takes here: training uses bfloat16 only where the CPU has it, and float32
    training takes two to three times as long (the ranges come from benchmarks/RESULTS.md)."""
    flags = cpu_flags() if flags is None else flags
    if flags & {"avx512_bf16", "amx_tile"}:  # what finetune.device.cpu_has_bf16 asks torch about
        return "about 4-6 minutes on 2 CPU cores"
    if flags:
        return "about 10-13 minutes on 2 CPU cores: this CPU has no bfloat16, so training runs in float32"
    return "4-13 minutes on 2 CPU cores, depending on the CPU"


def check_can_build(settings: Settings) -> None:
    """SystemExit saying what to do when there is no model and no data to build one."""
    if not model_exists(settings.model_dir) and not Path(settings.emotion_data).exists() \
            and not is_set("HELPLINE_ONLINE"):
        raise SystemExit(f"No model at {settings.model_dir}, and no GoEmotions data to build one: set "
                         f"HELPLINE_DATA to the folder holding goemotions/original (now {settings.data_dir}), "
                         "set HELPLINE_ONLINE=1 to fetch it from the Hub, or point HELPLINE_MODEL at a model.")
