"""Helpline runtime: load a model directory, classify messages, run conversations.

    bot/model/         the model directory format (the contract with finetune/), the classifier serving uses
                       (ONNX Runtime or torch), predictions, emotions, explanations
    bot/conversation/  one customer turn (service.Helpline): the dialogue policy, small talk, triage priority;
                       what agents do (desk.AgentDesk) and how it moves a conversation (state)
    bot/store/         the conversation store: schema, migrations, agent accounts, retention; it saves, never decides
    bot/redact.py      PII redaction, applied before anything is stored or read by a model
    bot/serving/       the REST API, its guards and limits, turn worker processes, hot reload, settings, first start
    bot/registry/      model versions, promotion and background retrain jobs

Names are imported lazily: the ONNX serving path must not pay for importing torch. `Classifier` is the old name
of `HelplineModel`, kept for one release.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "GOEMOTIONS_LABELS": "model.emotions", "SENTIMENTS": "model.emotions", "OOS": "model.prediction",
    "Prediction": "model.prediction", "HelplineModel": "model.helpline_model", "Classifier": "model.classifier",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
