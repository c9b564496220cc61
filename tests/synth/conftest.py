"""Fixtures of these tests."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from vigie.store.engine import make_engine
from vigie.store.migrate import upgrade


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test.

    Overrides the shared fixture, whose ``PRAGMA wal_checkpoint`` runs inside the
    engine's ``BEGIN IMMEDIATE`` and fails with "database table is locked"; the
    checkpoint here runs on a plain sqlite3 connection outside any transaction.
    """
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path
