"""An encrypted snapshot of the registry as triage sees it, so a leak is triaged in
seconds instead of re-reading millions of people from the database each time.

After :func:`vigie.leaks.reference.load_registry` has built DuckDB tables ``reg`` and
``reg_freq``, they are written as a DuckDB database file (with the number of people) and
AES-256-GCM encrypted under ``secrets.derive("leak-registry-snapshot")`` in
``DATA_DIR/leak-cache/registry.enc`` (mode 0700), with the registry's *fingerprint*
bound as associated data. The next analysis reuses the snapshot when the fingerprint
still matches — the number of people and of superseded versions, the highest id and the
latest ``valid_from``/``valid_to`` — and rebuilds it otherwise. Any change made through
Vigie (import, new version, deletion) changes the fingerprint.

A reused snapshot is decrypted into the analysis' private work directory and attached
read-only: ``reg`` and ``reg_freq`` are views over it, so nothing is copied — DuckDB
reads the columns a query needs, when it needs them. The plaintext file lives only in
that directory, for the analysis, and goes with it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, text

from vigie.leaks.reference import load_registry
from vigie.secrets import InstanceSecrets

_PURPOSE = "leak-registry-snapshot"
SNAPSHOT_VERSION = 3  # bump when the snapshot's tables or format change
_TABLES = ("reg", "reg_freq")
_BLOB = "registry.enc"
_ATTACHED = "registry_snapshot"


def fingerprint(conn: Connection) -> str:
    """A cheap digest that changes whenever the registry does.

    Every change made through Vigie adds a person (count, highest id — canaries
    included) or a version (``valid_from`` of the current one, indexed; count and latest
    ``valid_to`` of the superseded ones). Each part is read from an index or a count.
    """
    # One scalar subquery per part, so that SQLite answers max() from an index.
    parts_sql = ", ".join(
        f"(SELECT {part})"
        for part in (
            "count(*) FROM subjects",
            "max(id) FROM subjects",
            "max(valid_from) FROM subjects",
            "count(*) FROM subject_versions",
            "max(valid_to) FROM subject_versions",
        )
    )
    values = conn.execute(text(f"SELECT {parts_sql}")).one()
    parts = [SNAPSHOT_VERSION, *(str(v) for v in values)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _attach(con: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Views ``reg`` and ``reg_freq`` over the snapshot database at ``path``; its people."""
    con.execute(f"ATTACH ? AS {_ATTACHED} (READ_ONLY)", [str(path)])
    try:
        for t in _TABLES:
            con.execute(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM {_ATTACHED}.{t}")
        row = con.execute(f"SELECT people FROM {_ATTACHED}.meta").fetchall()
        return int(row[0][0])
    except (duckdb.Error, IndexError, TypeError):
        for t in _TABLES:
            con.execute(f"DROP VIEW IF EXISTS {t}")
        con.execute(f"DETACH {_ATTACHED}")
        raise


def _database_of(con: duckdb.DuckDBPyConnection, people: int, path: Path) -> bytes:
    """Tables ``reg`` and ``reg_freq`` and the number of people, as a DuckDB file's bytes."""
    con.execute("ATTACH ? AS registry_fresh", [str(path)])
    try:
        for t in _TABLES:
            con.execute(f"CREATE TABLE registry_fresh.{t} AS SELECT * FROM {t}")
        con.execute(f"CREATE TABLE registry_fresh.meta AS SELECT {int(people)} AS people")
    finally:
        con.execute("DETACH registry_fresh")
    try:
        return path.read_bytes()
    finally:
        path.unlink()


def load_reference(
    con: duckdb.DuckDBPyConnection,
    conn: Connection,
    *,
    work: Path,
    cache: Path,
    secrets: InstanceSecrets,
) -> tuple[int, bool]:
    """Tables (or views over the snapshot) ``reg`` and ``reg_freq``; ``(people,
    from_snapshot)``."""
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    cache.chmod(0o700)
    digest = fingerprint(conn)
    aead = AESGCM(secrets.derive(_PURPOSE))
    aad = f"registry:{digest}".encode()
    blob_path = cache / _BLOB
    if blob_path.exists():
        plain_path = work / "registry.duckdb"
        try:
            blob = blob_path.read_bytes()
            _write_private(plain_path, aead.decrypt(blob[:12], blob[12:], aad))
            del blob
            return _attach(con, plain_path), True
        except (InvalidTag, ValueError, duckdb.Error):
            plain_path.unlink(missing_ok=True)  # stale (another fingerprint) or damaged
    people = load_registry(con, conn, work)
    plain = _database_of(con, people, work / "registry-new.duckdb")
    nonce = os.urandom(12)
    _write_private(blob_path, nonce + aead.encrypt(nonce, plain, aad))
    for old in ("reg.enc", "reg_freq.enc"):  # the Parquet snapshot of version 2
        (cache / old).unlink(missing_ok=True)
    return people, False


def prepare(db: Connection, *, data_dir: Path, secrets: InstanceSecrets) -> tuple[int, bool]:
    """Build the registry snapshot now if it is missing or stale: ``(people, rebuilt)``.

    Run it after loading or changing the registry (``vigie leak prepare``) so that the
    first leak analysis does not pay for reading the whole registry.
    """
    import shutil
    import tempfile

    base = data_dir / "leak-work"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix="prepare-", dir=base))
    con = duckdb.connect(":memory:", config={"temp_directory": str(work / "spill")})
    try:
        people, cached = load_reference(
            con, db, work=work, cache=data_dir / "leak-cache", secrets=secrets
        )
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)
    return people, not cached
