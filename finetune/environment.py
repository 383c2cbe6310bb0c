"""What training reads from the environment: where the public datasets, the serving model and the conversation
store are. The same variables and defaults as the app's settings (bot/serving/settings.py); training reads
them here so that it never imports serving code."""
from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> str:
    return os.environ.get("HELPLINE_DATA", "../shared/datasets")


def emotion_data() -> str:
    """GoEmotions under HELPLINE_DATA, or the Hub id for users online."""
    local = Path(data_dir()) / "goemotions" / "original"
    return str(local) if local.is_dir() else "google-research-datasets/go_emotions"


def model_dir() -> str:
    return os.environ.get("HELPLINE_MODEL", "models/default")


def database() -> str:
    return os.environ.get("HELPLINE_DB", "sqlite:///helpline.db")
