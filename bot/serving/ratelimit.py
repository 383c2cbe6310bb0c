"""Abuse limits on the open endpoints, with the `limits` library (moving windows).

On by default. ``HELPLINE_RATE_LIMITS``: "on" (the defaults below), "off" (benchmarks, load tests), or
overrides such as "chat_address=30/minute;login_account=3/15 minutes". Counters live in
``HELPLINE_RATE_LIMIT_STORAGE``: "memory://" (default: one app process owns the port; its turn workers sit
behind it) or "redis://host:6379" so that several app processes behind one load balancer share them.

A request over a limit is a 429 with Retry-After and a sentence the widget shows as it is.
"""
from __future__ import annotations

import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

DEFAULT_LIMITS = {
    "chat_address": "60/minute",          # customer messages from one address (a shared office NAT stays fine)
    "chat_conversation": "20/minute",     # messages into one conversation
    "classify_address": "120/minute",     # /api/classify calls from one address
    "login_address": "20/minute",         # login attempts from one address
    "login_account_address": "5/15 minutes",  # failed logins for one agent name from one address (locked there)
    "login_account": "30/hour",           # ... from anywhere (then locked, except where the agent logged in before)
    "upload_address": "30/hour",          # uploads to the agents' app from one address
    "read_address": "600/minute",         # GET /api/chat/{id}/messages and /api/health from one address
}


class RateLimited(Exception):
    def __init__(self, retry_after: int, message: str):
        super().__init__(message)
        self.retry_after = retry_after


def parse_spec(spec: str | None) -> dict[str, str] | None:
    """The limits a HELPLINE_RATE_LIMITS value asks for; None for "off". ValueError naming a bad part."""
    spec = (spec or "on").strip()
    if spec.lower() in ("off", "0", "false", "no"):
        return None
    chosen = dict(DEFAULT_LIMITS)
    if spec.lower() in ("on", "1", "true", "yes", ""):
        return chosen
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_LIMITS or not value.strip():
            raise ValueError(f"HELPLINE_RATE_LIMITS: {part!r} is not NAME=N/period with NAME one of "
                             f"{sorted(DEFAULT_LIMITS)}, or 'on'/'off'")
        try:
            parse(value.strip())
        except ValueError:
            raise ValueError(f"HELPLINE_RATE_LIMITS: {value.strip()!r} is not a rate such as 30/minute") from None
        chosen[name] = value.strip()
    return chosen


class RateLimits:
    def __init__(self, spec: str | None = "on", storage: str = "memory://"):
        chosen = parse_spec(spec)
        self.enabled = chosen is not None
        self.items = {name: parse(value) for name, value in (chosen or {}).items()}
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage)) if self.enabled else None

    def _retry_after(self, name: str, keys: tuple[str, ...]) -> int:
        reset = self.limiter.get_window_stats(self.items[name], name, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))

    def hit(self, name: str, *keys: str, message: str = "") -> None:
        """Count one request against limit ``name`` for ``keys``; RateLimited when it is over. ``message`` may
        hold {} for the seconds to wait."""
        if self.enabled and not self.limiter.hit(self.items[name], name, *keys):
            self._refuse(name, keys, message)

    def check(self, name: str, *keys: str, message: str = "") -> None:
        """RateLimited if limit ``name`` is already used up for ``keys`` (counts nothing: for failures, which
        are counted with `hit` only once they happen)."""
        if self.enabled and not self.limiter.test(self.items[name], name, *keys):
            self._refuse(name, keys, message)

    def _refuse(self, name: str, keys: tuple[str, ...], message: str):
        wait = self._retry_after(name, keys)
        raise RateLimited(wait, (message or "Too many requests; please wait {} seconds and try again.").format(wait))

    def chat(self, address: str, conversation_id: str | None) -> None:
        words = "You are sending messages faster than we can read them; please wait {} seconds and try again."
        self.hit("chat_address", address, message=words)
        if conversation_id:
            self.hit("chat_conversation", conversation_id, message=words)
