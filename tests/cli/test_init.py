"""``vigie init`` creates secrets (0600) and the schema, and is idempotent."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigie.cli.app import app

runner = CliRunner()


def test_init_creates_secrets_and_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_DATA_DIR", str(tmp_path / "d"))
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    secrets = tmp_path / "d" / "secrets"
    for name in ("instance.key", "audit-signing.pem"):
        assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600
    assert (tmp_path / "d" / "vigie.db").exists()
    key = (secrets / "instance.key").read_bytes()
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 0, again.output
    assert "created secret" not in again.output
    assert (secrets / "instance.key").read_bytes() == key


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("vigie ")


def test_missing_database_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIE_DATA_DIR", str(tmp_path / "nowhere" / "deeper"))
    result = runner.invoke(app, ["subjects", "show", "CIR000000001"])
    assert result.exit_code == 1
    assert "cannot use the database" in result.output
    assert "vigie init" in result.output
    assert "Traceback" not in result.output
