"""`vigie synth` through Typer's runner, on real databases."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.settings import Settings
from vigie.store.engine import make_engine
from vigie.store.migrate import upgrade

runner = CliRunner()
Invoke = Callable[[list[str]], Result]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite template (checkpointed outside the engine's BEGIN IMMEDIATE)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def cli(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(args: list[str]) -> Result:
        return runner.invoke(app, args, obj=Instance(settings=settings, _engine=engine))

    return invoke


def test_synth_prints_the_summary(cli: Invoke) -> None:
    result = cli(["synth", "--people", "400", "--seed", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "400 people" in out
    assert "People by nationality" in out and "Processors and their scopes" in out
    assert "platform-cir" in out and "lingua-idf" in out and "11 Île-de-France" in out
    again = cli(["synth", "--people", "10"])
    assert again.exit_code == 1
    assert "already holds" in again.output


def test_synth_json_without_canaries(cli: Invoke) -> None:
    result = cli(["synth", "-n", "300", "--seed", "4", "--no-canaries", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["people"] == 300 and data["canaries"] == 0 and data["seed"] == 4
    assert sum(data["by_nationality"].values()) == 300
    assert len(data["processors"]) == 27
    platform = next(p for p in data["processors"] if p["name"] == "platform-cir")
    assert platform["scope"] == 300 and platform["region"] is None


def test_synth_rejects_zero_people() -> None:
    result = runner.invoke(app, ["synth", "--people", "0"])
    assert result.exit_code == 2
