"""Agent login with its abuse limits, shared by the REST API and the login page.

Failed logins lock an agent name per address first (``login_account_address``), so one address cannot lock an
agent out everywhere; a slower limit per name from anywhere (``login_account``) stops a guesser that rotates
addresses, and it spares the addresses the agent has logged in from before, so the right password from a known
address still works while the name is under attack. Failures are logged with the name and address, never the
password."""
from __future__ import annotations

import logging

from bot.serving.ratelimit import RateLimited, RateLimits

log = logging.getLogger("helpline.login")
HERE = "Too many failed logins for this agent from this address; try again in {} seconds."
ANYWHERE = ("Too many failed logins for this agent; it is locked for addresses it has not logged in from before. "
            "Try again in {} seconds, or from where you usually log in.")


class LoginFailed(ValueError):
    """Wrong name or password (the same words for both, so names cannot be probed)."""

    def __init__(self):
        super().__init__("wrong name or password")


def checked_login(store, limits: RateLimits, name: str, password: str, address: str):
    """(agent, session token), or LoginFailed / RateLimited."""
    limits.hit("login_address", address,
               message="Too many login attempts from this address; please wait {} seconds.")
    key = name.lower()
    limits.check("login_account_address", key, address, message=HERE)
    if limits.enabled and not store.is_known_address(name, address):
        limits.check("login_account", key, message=ANYWHERE)
    result = store.login(name, password)
    if result is None:
        log.warning("failed login for agent %r from %s", name[:80], address)
        for limit, keys, words in (("login_account_address", (key, address), HERE),
                                   ("login_account", (key,), ANYWHERE)):
            try:
                limits.hit(limit, *keys, message=words)
            except RateLimited:
                log.warning("agent %r locked (%s) after repeated failed logins (last from %s)", name[:80], limit,
                            address)
        raise LoginFailed()
    store.remember_address(result[0].id, address)
    return result
