"""Helpline runtime: load a model directory, classify messages, run conversations.

Names are imported lazily: the ONNX serving path (`bot.Classifier`) must not pay for importing torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "GOEMOTIONS_LABELS": "emotions", "SENTIMENTS": "emotions", "OOS": "prediction", "Prediction": "prediction",
    "HelplineModel": "model", "Classifier": "classifier",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
