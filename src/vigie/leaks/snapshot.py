"""An encrypted snapshot of the registry as triage sees it, so a leak is triaged in
seconds instead of re-reading millions of people from the database each time.

After :func:`vigie.leaks.reference.load_registry` has built DuckDB tables ``reg`` and
``reg_freq``, they are written as Parquet and AES-256-GCM encrypted under
``secrets.derive("leak-registry-snapshot")`` in ``DATA_DIR/leak-cache`` (mode 0700),
with the registry's *fingerprint* bound as associated data. The next analysis reuses the
snapshot when the fingerprint still matches — the number of people and of superseded
versions, the highest id and the latest ``valid_from``/``valid_to`` — and rebuilds it
otherwise. Any change made through Vigie (import, new version, deletion) changes the
fingerprint. The plaintext Parquet exists only in the analysis' private work directory
while DuckDB reads it.
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
SNAPSHOT_VERSION = 2  # bump when the snapshot's tables change
_TABLES = ("reg", "reg_freq")


def fingerprint(conn: Connection) -> str:
    """A cheap digest that changes whenever the registry does."""
    row = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM subjects), (SELECT max(id) FROM subjects), "
            "(SELECT max(valid_from) FROM subjects), (SELECT count(*) FROM subject_versions), "
            "(SELECT max(valid_to) FROM subject_versions), "
            "(SELECT count(*) FROM subjects WHERE is_canary)"
        )
    ).one()
    parts = [SNAPSHOT_VERSION, *(str(v) for v in row)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    tmp.replace(path)


def load_reference(
    con: duckdb.DuckDBPyConnection,
    conn: Connection,
    *,
    work: Path,
    cache: Path,
    secrets: InstanceSecrets,
) -> tuple[int, bool]:
    """Tables ``reg`` and ``reg_freq``; ``(people, from_snapshot)``."""
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    cache.chmod(0o700)
    digest = fingerprint(conn)
    aead = AESGCM(secrets.derive(_PURPOSE))
    if all((cache / f"{t}.enc").exists() for t in _TABLES):
        try:
            for t in _TABLES:
                blob = (cache / f"{t}.enc").read_bytes()
                plain = aead.decrypt(blob[:12], blob[12:], f"{t}:{digest}".encode())
                _write_private(work / f"{t}.parquet", plain)
                con.execute(
                    f"CREATE OR REPLACE TABLE {t} AS SELECT * FROM read_parquet(?)",
                    [str(work / f"{t}.parquet")],
                )
                (work / f"{t}.parquet").unlink()
            row = con.execute("SELECT count(DISTINCT subject_id) FROM reg").fetchall()[0]
            return int(row[0]), True
        except (InvalidTag, ValueError, duckdb.Error):
            pass  # stale (another fingerprint) or damaged: rebuild below
    people = load_registry(con, conn, work)
    for t in _TABLES:
        plain_path = work / f"{t}.parquet"
        con.execute(f"COPY {t} TO '{plain_path}' (FORMAT parquet)")
        nonce = os.urandom(12)
        blob = nonce + aead.encrypt(nonce, plain_path.read_bytes(), f"{t}:{digest}".encode())
        plain_path.unlink()
        _write_private(cache / f"{t}.enc", blob)
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
