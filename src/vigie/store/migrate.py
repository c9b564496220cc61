"""Create or upgrade a database schema with Alembic, and detect models without migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from vigie.store.models import load_metadata

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Any = None) -> Config:
    """An Alembic config pointing at Vigie's migrations (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the latest)."""
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def pending_changes(engine: Engine) -> list[Any]:
    """Differences between the models and the migrated schema (empty when in step)."""
    metadata = load_metadata()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))
