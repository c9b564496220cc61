"""`vigie backup` then `vigie restore` into a new instance, end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from tests.cli.conftest import Invoke, runner
from tests.conftest import PG_URL
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.settings import Settings
from vigie.store.engine import make_engine
from vigie.store.models import load_metadata

AUDIT_GROWS = {"audit_events", "audit_head", "audit_checkpoints", "audit_tiles"}  # appended to


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "backup.key"
    path.write_text(base64.b64encode(os.urandom(32)).decode())
    path.chmod(0o600)
    return path


@pytest.fixture
def target(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a new, empty instance of the same kind (PostgreSQL: a new database)."""
    data = tmp_path / "restored"
    if settings.resolved_database_url.startswith("sqlite"):
        yield Settings(data_dir=data)
        return
    name = f"r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(settings.resolved_database_url).set(database=name)
    yield Settings(data_dir=data, database_url=url.render_as_string(hide_password=False))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _on(target: Settings, args: list[str], stdin: str | None = None) -> Any:
    """``vigie ARGS`` on the instance of ``target``, its engine closed afterwards."""
    engine = make_engine(target.resolved_database_url)
    try:
        return runner.invoke(app, args, input=stdin, obj=Instance(settings=target, _engine=engine))
    finally:
        engine.dispose()


def _restore(target: Settings, *args: str) -> Any:
    return _on(target, ["restore", *args])


def _rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in load_metadata().sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            tables[table.name] = [tuple(r) for r in conn.execute(select(table).order_by(*order))]
    return tables


def test_restore_gives_the_same_instance_and_a_verified_trail(
    cli: Invoke, settings: Settings, engine: Engine, target: Settings, key_file: Path
) -> None:
    assert cli(["synth", "--people", "150", "--seed", "5"]).exit_code == 0
    before = _rows(engine)
    out = settings.data_dir.parent / "backup"
    made = cli(["backup", "--out", str(out), "--key-file", str(key_file)])
    assert made.exit_code == 0, made.output
    assert "sealed files" in made.output

    done = _restore(target, str(out), "--key-file", str(key_file))
    assert done.exit_code == 0, done.output
    assert "audit trail verified" in done.output
    restored = make_engine(target.resolved_database_url)
    try:
        after = _rows(restored)
    finally:
        restored.dispose()
    for name, rows in before.items():
        if name in {"audit_events", "audit_checkpoints"}:
            assert after[name][: len(rows)] == rows, name  # then store:restore
        elif name not in AUDIT_GROWS:
            assert after[name] == rows, name
    actions = [row[6] for row in after["audit_events"][len(before["audit_events"]) :]]
    assert actions == ["store:restore", "audit:checkpoint"]  # store:backup follows the copy
    for secret in settings.resolved_secrets_dir.iterdir():
        copy = target.resolved_secrets_dir / secret.name
        assert copy.read_bytes() == secret.read_bytes()
        assert copy.stat().st_mode == secret.stat().st_mode
    verified = _on(target, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_backup_holds_nothing_in_clear(
    cli: Invoke, settings: Settings, engine: Engine, key_file: Path
) -> None:
    assert cli(["synth", "--people", "50", "--seed", "6"]).exit_code == 0
    with engine.connect() as conn:
        emails = [r[0] for r in conn.execute(text("SELECT email FROM subjects")) if r[0]]
    out = settings.data_dir.parent / "backup"
    assert cli(["backup", "--out", str(out), "--key-file", str(key_file)]).exit_code == 0
    secrets = [p.read_bytes() for p in settings.resolved_secrets_dir.iterdir()]
    master = (settings.resolved_secrets_dir / "instance.key").read_bytes()
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert master not in data and master.hex().encode() not in data
            assert not any(s[20:60] in data for s in secrets if len(s) > 60)
            assert not any(e.encode() in data for e in emails[:20])
            assert b"SQLite format" not in data and b"PGDMP" not in data
    assert not (settings.data_dir / ".backup-work").exists()


def test_restore_refuses_a_live_instance_a_wrong_key_and_a_changed_file(
    cli: Invoke, settings: Settings, target: Settings, key_file: Path, tmp_path: Path
) -> None:
    assert cli(["synth", "--people", "30", "--seed", "7"]).exit_code == 0
    out = tmp_path / "backup"
    assert cli(["backup", "--out", str(out), "--key-file", str(key_file)]).exit_code == 0

    into_live = cli(["restore", str(out), "--key-file", str(key_file)])
    assert into_live.exit_code == 1 and "not empty" in into_live.output

    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    other.chmod(0o600)
    wrong = _restore(target, str(out), "--key-file", str(other))
    assert wrong.exit_code == 1 and "does not authenticate" in wrong.output
    assert not target.resolved_secrets_dir.exists()

    sealed = out / "secrets" / "instance.key.sealed"
    data = bytearray(sealed.read_bytes())
    data[-1] ^= 1
    sealed.write_bytes(bytes(data))
    changed = _restore(target, str(out), "--key-file", str(key_file))
    assert changed.exit_code == 1 and "does not match its SHA-256" in changed.output
    assert not target.resolved_secrets_dir.exists()


def test_passphrase_backup_restores_with_the_passphrase_only(
    cli: Invoke, settings: Settings, target: Settings, tmp_path: Path
) -> None:
    assert cli(["synth", "--people", "20", "--seed", "8"]).exit_code == 0
    out = tmp_path / "backup"
    phrase = "correct horse battery staple\n"
    made = _on(settings, ["backup", "--out", str(out), "--passphrase-stdin"], phrase)
    assert made.exit_code == 0, made.output
    bad = _on(target, ["restore", str(out), "--passphrase-stdin"], "wrong horse battery staple\n")
    assert bad.exit_code == 1 and "does not authenticate" in bad.output
    good = _on(target, ["restore", str(out), "--passphrase-stdin"], phrase)
    assert good.exit_code == 0, good.output


def test_backup_into_a_non_empty_directory_is_refused(
    cli: Invoke, tmp_path: Path, key_file: Path
) -> None:
    out = tmp_path / "full"
    out.mkdir()
    (out / "x").write_text("x")
    result = cli(["backup", "--out", str(out), "--key-file", str(key_file)])
    assert result.exit_code == 1 and "not empty" in result.output


def test_pg_dump_missing_is_said_clearly(
    cli: Invoke, settings: Settings, tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("pg_dump is for PostgreSQL stores")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = cli(["backup", "--out", str(tmp_path / "b"), "--key-file", str(key_file)])
    assert result.exit_code == 1 and "pg_dump is not on PATH" in result.output
