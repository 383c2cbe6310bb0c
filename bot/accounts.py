"""Agent accounts: scrypt-hashed passwords and session tokens in the database (only a token's SHA-256 is
stored), so a login made on one app process is valid on every other. Mixed into `bot.store.Store`."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets

from sqlalchemy import select

from .schema import Agent, AgentSession, utcnow

SESSION_HOURS = 12.0


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, salt, _digest = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


class AgentAccounts:
    """Needs ``transaction()`` (a write session) and ``sessions`` (a sessionmaker), as `Store` has."""

    def add_agent(self, name: str, password: str) -> Agent:
        if not name.strip() or len(password) < 8:
            raise ValueError("an agent needs a name and a password of at least 8 characters")
        with self.transaction() as session:
            if session.scalar(select(Agent).where(Agent.name == name)) is not None:
                raise ValueError(f"an agent named {name!r} already exists")
            agent = Agent(name=name, password_hash=hash_password(password))
            session.add(agent)
            return agent

    def login(self, name: str, password: str, hours: float = SESSION_HOURS) -> tuple[Agent, str] | None:
        """(agent, a new session token) for a right name and password, else None."""
        agent = self.check_agent(name, password)
        if agent is None:
            return None
        token = secrets.token_urlsafe(32)
        with self.transaction() as session:
            session.add(AgentSession(token_hash=hashlib.sha256(token.encode()).hexdigest(), agent_id=agent.id,
                                     expires=utcnow() + dt.timedelta(hours=hours)))
        return agent, token

    def agent_for_token(self, token: str | None) -> Agent | None:
        """The agent a session token belongs to, while it has not expired (None for no token)."""
        if not token:
            return None
        with self.sessions() as session:
            row = session.get(AgentSession, hashlib.sha256(token.encode()).hexdigest())
            if row is None:
                return None
            expires = row.expires if row.expires.tzinfo else row.expires.replace(tzinfo=dt.timezone.utc)
            return session.get(Agent, row.agent_id) if expires > utcnow() else None

    def check_agent(self, name: str, password: str) -> Agent | None:
        with self.sessions() as session:
            agent = session.scalar(select(Agent).where(Agent.name == name))
            return agent if agent is not None and verify_password(password, agent.password_hash) else None

