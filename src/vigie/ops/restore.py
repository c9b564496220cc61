"""``vigie restore``: a sealed backup back into an empty instance.

The order matters: the manifest is authenticated with the key first, every sealed file's
SHA-256 checked, and the target proven empty (no secret, no table, no outbox file) before
anything is written, so a wrong key or a damaged backup changes nothing, and a restore
never overwrites a live instance. A backup restores onto the same kind of store it was
taken from (SQLite to SQLite, PostgreSQL to PostgreSQL): moving between them is an export,
not a restore. The caller then runs ``vigie init`` (schema upgrade, if the backup is older
than the code) and ``vigie audit verify``; ``vigie restore`` does both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, inspect

from vigie.breach.channels import outbox_dir
from vigie.errors import InvalidInput
from vigie.ops import dumps
from vigie.ops.backup import STORE, KeySource
from vigie.ops.manifest import Entry, Manifest
from vigie.ops.sealing import open_sealed
from vigie.settings import Settings


def _sealed(directory: Path, entry: Entry, key: bytes) -> Iterator[bytes]:
    with (directory / entry.name).open("rb") as f:
        yield from open_sealed(f, key=key, name=entry.name)


def _refuse_non_empty(settings: Settings, engine: Engine) -> None:
    secrets_dir = settings.resolved_secrets_dir
    if secrets_dir.is_dir() and any(secrets_dir.iterdir()):
        raise InvalidInput(
            f"the target instance is not empty: {secrets_dir} holds secrets. Restore into a "
            "new instance (new VIGIE_DATA_DIR and an empty database)"
        )
    tables = inspect(engine).get_table_names()
    if tables:
        raise InvalidInput(
            f"the target instance is not empty: its database has {len(tables)} tables. "
            "Restore into an empty database (or a new PostgreSQL schema)"
        )
    box = outbox_dir(settings)
    if box.is_dir() and any(box.iterdir()):
        raise InvalidInput(f"the target instance is not empty: {box} holds files")


def _write(path: Path, chunks: Iterator[bytes], mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        for chunk in chunks:
            f.write(chunk)
    partial.chmod(mode)
    partial.replace(path)


def restore_backup(
    *, directory: Path, settings: Settings, engine: Engine, keys: KeySource
) -> Manifest:
    """Restore the backup in ``directory`` into the empty instance of ``settings``."""
    manifest = Manifest.read(directory)
    key = keys.key_for(manifest)
    manifest.authenticate(directory, mac_key=key.for_backup(manifest.backup_id, "manifest"))
    manifest.check_files(directory)
    if manifest.dialect != engine.dialect.name:
        raise InvalidInput(
            f"this backup is of a {manifest.dialect} store; the target is {engine.dialect.name}"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _refuse_non_empty(settings, engine)
    files_key = key.for_backup(manifest.backup_id, "files")
    for entry in manifest.entries:
        chunks = _sealed(directory, entry, files_key)
        if entry.name == STORE:
            _restore_store(engine, chunks)
        elif entry.kind == "secret":
            settings.resolved_secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            settings.resolved_secrets_dir.chmod(0o700)
            _write(_inside(settings.resolved_secrets_dir, entry.path), chunks, entry.mode)
        elif entry.kind == "outbox":
            _write(_inside(outbox_dir(settings), entry.path), chunks, entry.mode)
    return manifest


def _inside(base: Path, rel: str) -> Path:
    path = (base / rel).resolve()
    if not path.is_relative_to(base.resolve()):
        raise InvalidInput(f"the backup names a file outside its directory: {rel}")
    return path


def _restore_store(engine: Engine, chunks: Iterator[bytes]) -> None:
    if engine.dialect.name == "postgresql":
        dumps.pg_restore(engine, chunks)
        return
    path = dumps.sqlite_path(engine)
    engine.dispose()  # the empty file SQLAlchemy may hold open is replaced underneath
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _write(path, chunks, 0o600)
