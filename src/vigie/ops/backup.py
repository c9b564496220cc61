"""``vigie backup``: the store, the secrets and the outbox, sealed, with a manifest.

A backup directory holds ``store.sealed`` (the SQLite online-backup copy, or the
``pg_dump`` custom-format dump), ``secrets/*.sealed`` (the instance key, the audit signing
keys), ``outbox/**.sealed`` (letters and SMS written by the default providers), and the
manifest (:mod:`vigie.ops.manifest`). Every file is sealed (:mod:`vigie.ops.sealing`):
nothing in the directory is readable without the backup key. Stored leak reports live in
the store, already encrypted under the instance key; they come with it.

The only clear copy ever written is SQLite's page copy, in a 0700 directory under the data
directory (where the live database already lies in clear), deleted once sealed.
"""

from __future__ import annotations

import contextlib
import os
import secrets as random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from vigie import __version__
from vigie.breach.channels import outbox_dir
from vigie.errors import InvalidInput
from vigie.ops import dumps
from vigie.ops.manifest import Entry, Manifest, sha256_file
from vigie.ops.sealing import BackupKey, seal
from vigie.settings import Settings
from vigie.store.base import utcnow

STORE = "store.sealed"
# step name, bytes or pages done, total if known
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class KeySource:
    """Where the backup key comes from: a key file, or a passphrase (scrypt, fresh salt)."""

    key_file: Path | None = None
    passphrase: str | None = None

    def new_key(self) -> tuple[BackupKey, dict[str, object]]:
        if self.key_file is not None:
            return BackupKey.from_key_file(self.key_file), {"kind": "key-file"}
        if self.passphrase is not None:
            salt = random.token_bytes(16)
            key = BackupKey.from_passphrase(self.passphrase, salt=salt)
            return key, {"kind": "scrypt", "salt": salt.hex(), "n": 1 << 17, "r": 8, "p": 1}
        raise InvalidInput("give a backup key (--key-file) or a passphrase (--passphrase-stdin)")

    def key_for(self, manifest: Manifest) -> BackupKey:
        if manifest.kdf.get("kind") == "scrypt":
            if self.passphrase is None:
                raise InvalidInput("this backup was sealed with a passphrase: --passphrase-stdin")
            salt = bytes.fromhex(str(manifest.kdf["salt"]))
            return BackupKey.from_passphrase(self.passphrase, salt=salt)
        if self.key_file is None:
            raise InvalidInput("this backup was sealed with a key file: --key-file")
        return BackupKey.from_key_file(self.key_file)


def _prepare_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise InvalidInput(f"{out} is not empty: give a new directory for the backup")
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)


class _Writer:
    """Seals files into the backup directory and lists them for the manifest."""

    def __init__(self, out: Path, key: bytes, progress: Progress | None) -> None:
        self.out, self.key, self.progress = out, key, progress
        self.entries: list[Entry] = []

    def add(self, source: BinaryIO, *, name: str, kind: str, path: str, mode: int) -> None:
        target = self.out / name
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        done = 0

        def _moved(n: int) -> None:
            nonlocal done
            done += n
            if self.progress is not None:
                self.progress(f"sealing {name}", done, None)

        with target.open("wb") as f:
            size = seal(source, f, key=self.key, name=name, progress=_moved)
        self.entries.append(
            Entry(name=name, kind=kind, path=path, mode=mode, plain_bytes=size,
                  sha256=sha256_file(target))
        )  # fmt: skip


def _files(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.is_file() and not p.is_symlink())


def create_backup(
    *,
    settings: Settings,
    engine: Engine,
    out: Path,
    keys: KeySource,
    progress: Progress | None = None,
) -> Manifest:
    """Write a sealed backup of the instance into ``out`` (new or empty); return its manifest."""
    key, kdf = keys.new_key()
    _prepare_out(out)
    backup_id = uuid.uuid4().hex
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision() or "none"
    manifest = Manifest(
        backup_id=backup_id,
        created_at=utcnow().isoformat(),
        vigie_version=__version__,
        dialect=engine.dialect.name,
        revision=revision,
        kdf=kdf,
    )
    writer = _Writer(out, key.for_backup(backup_id, "files"), progress)
    _store(writer, settings=settings, engine=engine, progress=progress)
    secrets_dir = settings.resolved_secrets_dir
    for path in _files(secrets_dir):
        rel = path.relative_to(secrets_dir).as_posix()
        with path.open("rb") as f:
            writer.add(f, name=f"secrets/{rel}.sealed", kind="secret", path=rel,
                       mode=path.stat().st_mode & 0o777)  # fmt: skip
    box = outbox_dir(settings)
    for path in _files(box):
        rel = path.relative_to(box).as_posix()
        with path.open("rb") as f:
            writer.add(f, name=f"outbox/{rel}.sealed", kind="outbox", path=rel,
                       mode=path.stat().st_mode & 0o777)  # fmt: skip
    manifest.entries = writer.entries
    manifest.write(out, mac_key=key.for_backup(backup_id, "manifest"))
    return manifest


def _store(
    writer: _Writer, *, settings: Settings, engine: Engine, progress: Progress | None
) -> None:
    if engine.dialect.name == "postgresql":
        with dumps.pg_dump(engine) as stream:
            writer.add(stream, name=STORE, kind="store", path="pg_dump", mode=0o600)  # type: ignore[arg-type]
        return
    work = settings.data_dir / ".backup-work"
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    copy = work / f"{os.getpid()}-{uuid.uuid4().hex}.db"
    try:

        def _pages(done: int, total: int) -> None:
            if progress is not None:
                progress("copying the SQLite store", done, total)

        dumps.sqlite_copy(engine, copy, progress=_pages)
        with copy.open("rb") as f:
            writer.add(f, name=STORE, kind="store", path="sqlite", mode=0o600)
    finally:
        copy.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            work.rmdir()  # another backup may still use it
