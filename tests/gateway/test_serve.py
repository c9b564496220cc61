"""`vigie serve` (the multi-worker server itself is exercised in test_concurrency.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from vigie.cli.app import app


def test_serve_help_teaches() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--forwarded-allow-ips"):
        assert option in result.output
    assert "/api/v1" in result.output


def test_serve_refuses_an_instance_without_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        app, ["serve", "--port", "1"], env={"VIGIE_DATA_DIR": str(tmp_path / "none")}
    )
    assert result.exit_code == 1
    assert "vigie init" in result.output
