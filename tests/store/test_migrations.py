"""The migrations create exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

from vigie.store.engine import make_engine
from vigie.store.migrate import pending_changes, upgrade


def test_models_match_migrations(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    diff = pending_changes(engine)
    assert diff == [], f"models changed without a migration (run `make migration`): {diff}"


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
