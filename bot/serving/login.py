"""Agent login with its abuse limits, shared by the REST API and the console: attempts per address, failures
per agent name (then that name is locked out for the window, wherever the attempts come from). Failures are
logged with the name and address, never the password."""
from __future__ import annotations

import logging

from bot.serving.ratelimit import RateLimited, RateLimits

log = logging.getLogger("helpline.login")


class LoginFailed(ValueError):
    """Wrong name or password (the same words for both, so names cannot be probed)."""

    def __init__(self):
        super().__init__("wrong name or password")


def checked_login(store, limits: RateLimits, name: str, password: str, address: str):
    """(agent, session token), or LoginFailed / RateLimited."""
    limits.hit("login_address", address,
               message="Too many login attempts from this address; please wait {} seconds.")
    locked = "Too many failed logins for this agent; the account is locked for a while. Try again in {} seconds."
    limits.check("login_account", name.lower(), message=locked)
    result = store.login(name, password)
    if result is None:
        log.warning("failed login for agent %r from %s", name[:80], address)
        try:
            limits.hit("login_account", name.lower(), message=locked)
        except RateLimited:
            log.warning("agent %r locked out after repeated failed logins (last from %s)", name[:80], address)
        raise LoginFailed()
    return result
