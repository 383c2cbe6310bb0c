"""What training reads from the environment: where the public datasets, the serving model and the conversation
store are, through bot/config.py (the one list of variables and defaults, which imports nothing of serving)."""
from __future__ import annotations

from pathlib import Path

from bot.config import value


def data_dir() -> str:
    return value("HELPLINE_DATA")


def emotion_data() -> str:
    """GoEmotions under HELPLINE_DATA, or the Hub id for users online."""
    local = Path(data_dir()) / "goemotions" / "original"
    return str(local) if local.is_dir() else "google-research-datasets/go_emotions"


def model_dir() -> str:
    return value("HELPLINE_MODEL")


def database() -> str:
    return value("HELPLINE_DB")
