"""Alembic environment: run programmatically by `stormflow.store.migrate` on a live connection."""

from __future__ import annotations

from alembic import context

from stormflow.store.schema import metadata

connection = context.config.attributes["connection"]
# batch mode lets later migrations alter tables on SQLite (copy-and-move)
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
