"""The demo's instance is its own: no ``VIGIE_*`` variable of the shell reaches it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vigie.demo.world import World
from vigie.settings import Settings, isolated_settings


def _production_like(tmp_path: Path) -> Path:
    """An operator's 'real' registry: a SQLite file with one row we can check after."""
    prod = tmp_path / "prod" / "vigie.db"
    prod.parent.mkdir()
    with sqlite3.connect(prod) as db:
        db.execute("CREATE TABLE marker (v TEXT)")
        db.execute("INSERT INTO marker VALUES ('untouched')")
    return prod


def test_the_demo_instance_ignores_the_shells_vigie_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = _production_like(tmp_path)
    before = prod.read_bytes()
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("VIGIE_DATABASE_URL", f"sqlite:///{prod}")
    monkeypatch.setenv("VIGIE_DATA_DIR", str(elsewhere / "data"))
    monkeypatch.setenv("VIGIE_SECRETS_DIR", str(elsewhere / "secrets"))
    monkeypatch.setenv("VIGIE_NOTICE_OUTBOX_DIR", str(elsewhere / "outbox"))
    monkeypatch.setenv("VIGIE_ALERT_WEBHOOK_URL", "https://siem.controller.example/hook")
    monkeypatch.setenv("VIGIE_ALERT_EMAIL_TO", "dpo@controller.example")
    monkeypatch.setenv("VIGIE_SMTP_HOST", "smtp.controller.example")
    monkeypatch.setenv("VIGIE_ENVIRONMENT", "production")

    out = tmp_path / "demo"
    world = World.fresh(out)
    try:
        world.populate(people=1000, seed=7)
    finally:
        world.engine.dispose()

    assert prod.read_bytes() == before  # the real registry was not written to
    with sqlite3.connect(prod) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert tables == {"marker"}
    assert not elsewhere.exists()  # no secrets, outbox or data written there
    assert world.engine.url.database == str((out / "data" / "vigie.db").resolve())
    assert (out / "data" / "secrets").is_dir()
    defaults = Settings.model_fields
    for name in ("alert_webhook_url", "alert_email_to", "smtp_host", "environment"):
        assert getattr(world.settings, name) == defaults[name].default, name
    assert world.settings.resolved_secrets_dir == out / "data" / "secrets"


def test_isolated_settings_take_only_what_they_are_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIGIE_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("VIGIE_DETECTION_EVAL_EVERY_PEOPLE", "7")
    settings = isolated_settings(data_dir=tmp_path)
    assert settings.database_url is None
    assert settings.detection_eval_every_people == 25
    assert settings.resolved_database_url.endswith(f"{tmp_path.name}/vigie.db")
    # the ordinary settings still read the environment: only the demo is isolated
    assert Settings().database_url == "sqlite:///elsewhere.db"
