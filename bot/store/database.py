"""The database engine under the conversation store: SQLite (default, WAL) or PostgreSQL, migrated with Alembic.

Also what the rest of the app needs to know about database failures: a busy or unreachable database is
`StoreUnavailable` (the API answers 503 with Retry-After within a few seconds, never a hang or a 500), and
integers from clients are bounded to what the database can hold (`MAX_ID`).
"""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MAX_ID = 2 ** 63 - 1      # the largest integer SQLite and PostgreSQL's BIGINT hold; ids above it do not exist
BUSY_SECONDS = 3.0        # how long a write waits for a lock held elsewhere before the client is told to retry
RETRY_AFTER_SECONDS = 2


class StoreUnavailable(RuntimeError):
    """The database is busy (a lock held too long) or unreachable: nothing was written; try again shortly."""

    def __init__(self, detail: str = ""):
        super().__init__("the conversation store is busy right now; nothing was saved, please send it again in a "
                         f"few seconds{f' ({detail})' if detail else ''}")


def is_unavailable(exc: BaseException) -> bool:
    """A database error that says 'not now' (locked, timed out, connection lost), not a bug, a conflict or
    data the database refuses."""
    return isinstance(exc, (StoreUnavailable, OperationalError, InterfaceError, PoolTimeout))


def _owner_only(url: str) -> None:
    """Create a new SQLite file readable by its owner only: it holds customers' conversations. SQLite gives the
    -wal and -shm files it makes beside it the same permissions."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def make_engine(url: str, busy_seconds: float = BUSY_SECONDS) -> Engine:
    if url.startswith("sqlite"):
        _owner_only(url)
        engine = create_engine(url, connect_args={"timeout": busy_seconds, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            # WAL: readers never block the writer. synchronous=NORMAL: a committed transaction survives a
            # killed process (it is in the WAL file); only an OS crash or power cut can lose the last ones.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # IMMEDIATE takes the write lock at the start, so two processes serving the same conversation
            # cannot both read its state and then overwrite each other's update.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # a PostgreSQL statement waiting on a lock gives up after the same few seconds
    connect_args = ({"connect_timeout": max(1, int(busy_seconds)),
                     "options": f"-c lock_timeout={int(busy_seconds * 1000)}"}
                    if url.startswith("postgresql") else {})
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=busy_seconds,
                         connect_args=connect_args)


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (Alembic `upgrade head`)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
