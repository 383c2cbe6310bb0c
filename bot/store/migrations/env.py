"""Alembic environment: run by `bot.store.conversations.migrate` with a connection (no alembic.ini needed)."""
from alembic import context
from sqlalchemy import text

from bot.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # several app processes may start at once: one migrates, the others wait for it
        connection.execute(text("SELECT pg_advisory_xact_lock(7465)"))
    context.run_migrations()
