"""Every HELPLINE_* environment variable in one place: its name, its default and what it does.

The app's settings (bot/serving/settings.py), the command lines (`python -m bot`, `python -m finetune`) and the
assist code read the environment through `value` here, never `os.environ` directly, and README's settings table
is checked against `VARIABLES` (tests/test_config.py). No imports from the project: training and serving both
read it, and it must not pull either in.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None   # None: unset (the reader decides what that means, as `doc` says)
    doc: str


VARIABLES = {v.name: v for v in (
    Variable("HELPLINE_MODEL", "models/default", "model directory or registry the app serves (built on first "
             "start if missing)"),
    Variable("HELPLINE_CATALOGUE", None, "intent catalogue YAML; unset: the bundled intents/retail.yaml"),
    Variable("HELPLINE_DATA", "../shared/datasets", "the public datasets (GoEmotions builds the default model; the "
             "real customer text trains the upset head)"),
    Variable("HELPLINE_DB", "sqlite:///helpline.db", "SQLAlchemy URL of the conversation store (SQLite with WAL, or "
             "postgresql+psycopg://user:pass@host/db)"),
    Variable("HELPLINE_POLICY", None, "dialogue policy YAML; unset: the bundled bot/conversation/policy.yaml"),
    Variable("HELPLINE_AGENT_TOKEN", None, "bearer token for scripts using the agent endpoints (24+ characters)"),
    Variable("HELPLINE_ONNX_THREADS", None, "ONNX Runtime threads per process; unset: the process's share of cores"),
    Variable("HELPLINE_WORKERS", None, "processes that run the REST API's chat turns; unset: one per core (0 on a "
             "single core); 0 runs them in the app process"),
    Variable("HELPLINE_WIDGET_ORIGINS", None, "sites (comma-separated origins, or *) whose pages may embed the widget"),
    Variable("HELPLINE_RATE_LIMITS", "on", "the abuse limits of SECURITY.md: on, off, or overrides such as "
             "chat_address=30/minute;login_account_address=3/15 minutes"),
    Variable("HELPLINE_RATE_LIMIT_STORAGE", "memory://", "where the limits count: memory:// (one app process) or "
             "redis://host:6379 (shared by several)"),
    Variable("HELPLINE_RETENTION_DAYS", "365", "closed conversations untouched this long are deleted daily (0 keeps "
             "them)"),
    Variable("HELPLINE_TRUSTED_PROXIES", None, "addresses or networks of your reverse proxies (e.g. 10.0.0.0/8), "
             "whose X-Forwarded-For names the client; unset: the header is ignored"),
    Variable("HELPLINE_SECRET", None, "key of the stored client-address hashes; unset: a random key kept in the "
             "database (set it so a copy of the database alone reveals no address)"),
    Variable("HELPLINE_UPLOAD_CACHE_MB", "512", "agents' uploads are refused while Gradio's upload cache holds more"),
    Variable("HELPLINE_CANNED", None, "the agents' canned responses YAML; unset: the bundled intents/canned.yaml"),
    Variable("HELPLINE_SUGGEST_TRANSCRIPTS", None, "transcript files (comma-separated) whose agent replies the "
             "console suggests, beside the store's"),
    Variable("HELPLINE_ONLINE", None, "set it to use Hub ids for base models and data; unset: HF_HUB_OFFLINE=1"),
    Variable("HELPLINE_DEBUG", None, "set it to see a traceback instead of the one-line error of a command"),
)}


def value(name: str) -> str | None:
    """The variable's value: the environment's when set and not empty, else its default."""
    return os.environ.get(name) or VARIABLES[name].default


def listed(name: str) -> list[str]:
    """A comma-separated variable as a list (empty parts dropped)."""
    return [part.strip() for part in (value(name) or "").split(",") if part.strip()]


def is_set(name: str) -> bool:
    return bool(os.environ.get(name))
