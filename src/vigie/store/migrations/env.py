"""Alembic environment: runs against the connection handed in by :mod:`vigie.store.migrate`."""

from __future__ import annotations

from alembic import context

from vigie.store.models import load_metadata

target_metadata = load_metadata()
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when alembic is run by hand
    raise SystemExit("run migrations through `vigie init`")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
