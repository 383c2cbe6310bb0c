"""Agent accounts: scrypt-hashed passwords and session tokens in the database (only a token's SHA-256 is
stored), so a login made on one app process is valid on every other. Mixed into `bot.store.conversations.Store`.

A session ends at logout, after ``SESSION_HOURS``, or after ``IDLE_MINUTES`` without a request. Roles: an
"agent" works the console; an "admin" may also retrain, promote, force and roll back models. A disabled
account cannot log in and its sessions end at once.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets

from sqlalchemy import delete, select, update

from bot.store.schema import Agent, AgentSession, utcnow

SESSION_HOURS = 12.0
IDLE_MINUTES = 60.0
SEEN_EVERY = dt.timedelta(seconds=60)  # last_seen is written at most this often (not on every request)
ROLES = ("agent", "admin")
MIN_PASSWORD = 12
# the most common passwords of that length or longer; anything built from one word and digits is refused too
COMMON = {"password1234", "123456789012", "qwertyuiop12", "iloveyou1234", "letmein12345", "welcome12345",
          "administrator", "passwordpassword", "qwertyuiopasdf", "changeme1234", "helpline1234"}


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


# checked for unknown names, so a login takes as long whether the name exists or not (no name probing)
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_password_policy(name: str, password: str) -> None:
    """ValueError naming what is wrong with a new password."""
    lowered = password.lower()
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must be at least {MIN_PASSWORD} characters (a few words make a good one)")
    if lowered in COMMON or len(set(password)) < 5 or name.strip().lower() in lowered:
        raise ValueError("the password is too easy to guess (a common password, too few different characters, "
                         "or the agent's name): choose another")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentAccounts:
    """Needs ``transaction()`` (a write session) and ``sessions`` (a sessionmaker), as `Store` has."""

    def add_agent(self, name: str, password: str, role: str = "agent") -> Agent:
        if not name.strip():
            raise ValueError("an agent needs a name")
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        check_password_policy(name, password)
        with self.transaction() as session:
            if session.scalar(select(Agent).where(Agent.name == name)) is not None:
                raise ValueError(f"an agent named {name!r} already exists")
            agent = Agent(name=name, password_hash=hash_password(password), role=role, disabled=False)
            session.add(agent)
            return agent

    def _agent_named(self, session, name: str) -> Agent:
        agent = session.scalar(select(Agent).where(Agent.name == name))
        if agent is None:
            raise ValueError(f"no agent named {name!r}")
        return agent

    def set_password(self, name: str, password: str) -> None:
        """A new password; the agent's sessions end (a stolen session does not outlive the change)."""
        check_password_policy(name, password)
        with self.transaction() as session:
            agent = self._agent_named(session, name)
            agent.password_hash = hash_password(password)
            session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        with self.transaction() as session:
            agent = self._agent_named(session, name)
            agent.disabled = disabled
            if disabled:
                session.execute(delete(AgentSession).where(AgentSession.agent_id == agent.id))

    def login(self, name: str, password: str, hours: float = SESSION_HOURS) -> tuple[Agent, str] | None:
        """(agent, a new session token) for a right name and password of an enabled account, else None."""
        agent = self.check_agent(name, password)
        if agent is None:
            return None
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.transaction() as session:
            session.add(AgentSession(token_hash=token_hash(token), agent_id=agent.id, last_seen=now,
                                     expires=now + dt.timedelta(hours=hours)))
        return agent, token

    def logout(self, token: str | None) -> bool:
        """End a session; True if there was one."""
        if not token:
            return False
        with self.transaction() as session:
            return session.execute(delete(AgentSession).where(AgentSession.token_hash == token_hash(token))
                                   ).rowcount > 0

    def agent_for_token(self, token: str | None, touch: bool = True) -> Agent | None:
        """The agent a session token belongs to, while the session is neither expired nor idle too long and
        the account is enabled (None for no token). Each use counts as activity unless ``touch`` is False (the
        console's timers and Gradio's own checks, which would otherwise keep an unattended page logged in)."""
        if not token or not isinstance(token, str) or len(token) > 200:
            return None
        now = utcnow()
        with self.sessions() as session:
            row = session.get(AgentSession, token_hash(token))
            if row is None:
                return None
            seen = _aware(row.last_seen or row.created)
            if _aware(row.expires) <= now or now - seen > dt.timedelta(minutes=IDLE_MINUTES):
                return None
            agent = session.get(Agent, row.agent_id)
        if agent is None or agent.disabled:
            return None
        if touch and now - seen > SEEN_EVERY:
            try:
                with self.transaction() as session:
                    session.execute(update(AgentSession).where(AgentSession.token_hash == row.token_hash)
                                    .values(last_seen=now))
            except Exception:  # noqa: BLE001 - a busy database must not log the agent out; next request retries
                pass
        return agent

    def check_agent(self, name: str, password: str) -> Agent | None:
        with self.sessions() as session:
            agent = session.scalar(select(Agent).where(Agent.name == name))
        if agent is None:
            verify_password(password, DUMMY_HASH)  # the same work as for a real name
            return None
        return agent if verify_password(password, agent.password_hash) and not agent.disabled else None

    def agents(self) -> list[Agent]:
        with self.sessions() as session:
            return list(session.scalars(select(Agent).order_by(Agent.name)))


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes for what was stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
