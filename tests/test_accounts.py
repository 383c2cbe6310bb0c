"""Agent accounts: the password policy, login that does not tell which names exist, logout, disabling, a new
password ending sessions, idle sessions expiring, and owner-only SQLite files."""
import datetime as dt
import os
import stat

import pytest
from sqlalchemy import update

from bot.serving.settings import Settings
from bot.store import accounts
from bot.store.conversations import Store
from bot.store.schema import AgentSession


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'a.db'}")


@pytest.mark.parametrize("password, problem", [
    ("password1", "at least 12 characters"),
    ("password1234", "too easy to guess"),
    ("aaaaaaaaaaaaaaa", "too easy to guess"),
    ("ana-is-my-name-2024", "too easy to guess"),   # contains the agent's name
])
def test_weak_passwords_are_refused_with_the_reason(store, password, problem):
    with pytest.raises(ValueError, match=problem):
        store.add_agent("ana", password)


def test_an_unknown_name_costs_a_password_check_too(store, monkeypatch):
    store.add_agent("ana", "correct horse battery")
    checks = []
    real = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda p, h: checks.append(h) or real(p, h))
    assert store.login("nobody", "correct horse battery") is None
    assert store.login("ana", "wrong horse battery") is None
    assert len(checks) == 2 and checks[0] == accounts.DUMMY_HASH  # the same scrypt work either way


def test_logout_disable_and_new_password_end_sessions(store):
    store.add_agent("ana", "correct horse battery")
    _, token = store.login("ana", "correct horse battery")
    assert store.agent_for_token(token).name == "ana"
    assert store.logout(token) and store.agent_for_token(token) is None and not store.logout(token)
    _, token = store.login("ana", "correct horse battery")
    store.set_password("ana", "staple battery horse")
    assert store.agent_for_token(token) is None and store.login("ana", "correct horse battery") is None
    _, token = store.login("ana", "staple battery horse")
    store.set_disabled("ana")
    assert store.agent_for_token(token) is None and store.login("ana", "staple battery horse") is None
    store.set_disabled("ana", False)
    assert store.login("ana", "staple battery horse") is not None


def test_an_idle_session_expires(store):
    store.add_agent("ana", "correct horse battery")
    _, token = store.login("ana", "correct horse battery")
    idle = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=accounts.IDLE_MINUTES + 1)
    with store.transaction() as session:
        session.execute(update(AgentSession).values(last_seen=idle))
    assert store.agent_for_token(token) is None


def test_the_sqlite_files_are_readable_by_their_owner_only(tmp_path):
    path = tmp_path / "new" / "helpline.db"
    store = Store(f"sqlite:///{path}")
    store.add_agent("ana", "correct horse battery")
    for file in (path, path.with_name("helpline.db-wal")):
        assert stat.S_IMODE(os.stat(file).st_mode) & 0o077 == 0, file


def test_a_short_automation_token_is_refused(monkeypatch):
    monkeypatch.setenv("HELPLINE_AGENT_TOKEN", "secret")
    with pytest.raises(ValueError, match="HELPLINE_AGENT_TOKEN is 6 characters; use at least 24"):
        Settings.from_env()
    monkeypatch.setenv("HELPLINE_WIDGET_ORIGINS", "shop.example/path")
    monkeypatch.setenv("HELPLINE_AGENT_TOKEN", "x" * 32)
    with pytest.raises(ValueError, match="HELPLINE_WIDGET_ORIGINS: 'shop.example/path' is not an origin"):
        Settings.from_env()
