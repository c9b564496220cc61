"""Fixtures of the audit tests.

``sqlite_template`` overrides the shared one: its ``PRAGMA wal_checkpoint`` runs inside
the ``BEGIN IMMEDIATE`` the engine opens on first use, which SQLite refuses ("database
table is locked"). Here the checkpoint runs outside any transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vigie.store.engine import make_engine
from vigie.store.migrate import upgrade


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test."""
    path = tmp_path_factory.mktemp("audit-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path
