"""Alembic environment: always run with a connection handed in by `engine.ledger.db`."""

from __future__ import annotations

from alembic import context

from engine.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the engine always passes one
    raise RuntimeError("run migrations through `engine db upgrade`, not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
