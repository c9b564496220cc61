"""Initialising a Vigie instance: data directory, secrets, schema."""

from __future__ import annotations

from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from vigie.secrets import ensure_secrets
from vigie.settings import Settings
from vigie.store.migrate import upgrade


@dataclass(frozen=True)
class InitReport:
    """What ``initialise`` did."""

    created_secrets: list[str]
    revision: str
    database: str


def initialise(settings: Settings, engine: Engine) -> InitReport:
    """Create or upgrade everything an instance needs; idempotent."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    created = ensure_secrets(settings.resolved_secrets_dir)
    upgrade(engine)
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision() or "none"
    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    return InitReport(created_secrets=created, revision=revision, database=shown)
