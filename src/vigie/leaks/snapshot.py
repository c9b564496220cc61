"""An encrypted snapshot of the registry as triage sees it, so a leak is triaged in
seconds instead of re-reading millions of people from the database each time.

After :func:`vigie.leaks.reference.load_registry` has built DuckDB tables ``reg`` and
``reg_freq``, they are written as a DuckDB database file (with the number of people) and
AES-256-GCM encrypted under ``secrets.derive("leak-registry-snapshot")`` in
``DATA_DIR/leak-cache/registry.enc`` (mode 0700), with the registry's *fingerprint*
bound as associated data. It is sealed and opened in a stream of 1 MiB chunks
(:mod:`vigie.ops.sealing`, the backups' STREAM construction): neither the file nor its
plaintext is ever held whole in memory, whatever the registry's size.

The next analysis reuses the snapshot when the fingerprint still matches — the number
of people and of superseded versions, the highest id and the latest
``valid_from``/``valid_to`` — and rebuilds it otherwise. Any change made through
Vigie (import, new version, deletion) changes the fingerprint.

A reused snapshot is decrypted into the analysis' private work directory and attached
read-only: ``reg`` and ``reg_freq`` are views over it, so nothing is copied — DuckDB
reads the columns a query needs, when it needs them. The plaintext file lives only in
that directory, for the analysis, and goes with it.

**Checked against the seals.** When it is built, in the same database transaction as the
copy — on SQLite in the same read of each row
(:func:`vigie.leaks.reference.load_sealed_registry`) — the registry's rows are hashed
bucket by bucket as ``vigie audit verify`` hashes them (:func:`vigie.audit.seals.scan`)
and the snapshot keeps their state
(:func:`vigie.audit.seals.state_digest`). An analysis whose attribution is gated
(:class:`vigie.leaks.disclosures.ServedIndexDisclosures`) passes the state the verified
trail seals: a snapshot of another state is rebuilt, and a registry whose rows are not
as last sealed refuses the analysis (:class:`vigie.errors.IntegrityError`) — so the
gate need not read the registry back on every analysis. A row altered behind Vigie's
back after the snapshot was built changes nothing the triage reads (it reads the rows
as they were sealed); ``vigie audit verify`` finds it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import duckdb
from sqlalchemy import Connection, text

from vigie.errors import IntegrityError
from vigie.leaks.reference import load_sealed_registry
from vigie.leaks.workspace import Meter, workspace
from vigie.ops.sealing import open_sealed, seal
from vigie.secrets import InstanceSecrets

_PURPOSE = "leak-registry-snapshot"
SNAPSHOT_VERSION = 5  # bump when the snapshot's tables or format change
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


def _private(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


def _seal_file(plain: Path, blob: Path, *, key: bytes, aad: str) -> None:
    """Encrypt ``plain`` into ``blob`` chunk by chunk (replaced atomically), then drop it."""
    tmp = blob.with_suffix(".tmp")
    with plain.open("rb") as source, os.fdopen(_private(tmp), "wb") as target:
        seal(source, target, key=key, name=aad)
    tmp.replace(blob)
    plain.unlink()


def _open_file(blob: Path, plain: Path, *, key: bytes, aad: str) -> None:
    """Decrypt ``blob`` into ``plain`` chunk by chunk; ``IntegrityError`` if it changed."""
    with blob.open("rb") as source, os.fdopen(_private(plain), "wb") as target:
        for chunk in open_sealed(source, key=key, name=aad):
            target.write(chunk)


def _detach(con: duckdb.DuckDBPyConnection) -> None:
    for t in _TABLES:
        con.execute(f"DROP VIEW IF EXISTS {t}")
    con.execute(f"DETACH {_ATTACHED}")


def _attach(con: duckdb.DuckDBPyConnection, path: Path, state: bytes | None) -> int | None:
    """Views ``reg`` and ``reg_freq`` over the snapshot database at ``path``; its people.
    None (nothing attached) when ``state`` is given and the snapshot's rows were checked
    against another state of the registry's seals, or against none."""
    con.execute(f"ATTACH ? AS {_ATTACHED} (READ_ONLY)", [str(path)])
    try:
        for t in _TABLES:
            con.execute(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM {_ATTACHED}.{t}")
        row = con.execute(f"SELECT people, sealed FROM {_ATTACHED}.meta").fetchall()
        people, sealed = int(row[0][0]), row[0][1]
    except (duckdb.Error, IndexError, TypeError):
        _detach(con)
        raise
    if state is not None and (sealed is None or bytes(sealed) != state):
        _detach(con)
        return None
    return people


def _database_of(con: duckdb.DuckDBPyConnection, people: int, sealed: bytes, path: Path) -> None:
    """Tables ``reg`` and ``reg_freq``, the number of people and the state of the rows
    as seals digest them, as a DuckDB file."""
    con.execute("ATTACH ? AS registry_fresh", [str(path)])
    try:
        for t in _TABLES:
            con.execute(f"CREATE TABLE registry_fresh.{t} AS SELECT * FROM {t}")
        con.execute(
            "CREATE TABLE registry_fresh.meta AS SELECT CAST(? AS BIGINT) AS people, "
            "CAST(? AS BLOB) AS sealed",
            [int(people), sealed],
        )
    finally:
        con.execute("DETACH registry_fresh")


def load_reference(
    con: duckdb.DuckDBPyConnection,
    conn: Connection,
    *,
    work: Path,
    cache: Path,
    secrets: InstanceSecrets,
    meter: Meter | None = None,
    registry_state: bytes | None = None,
) -> tuple[int, bool]:
    """Tables (or views over the snapshot) ``reg`` and ``reg_freq``; ``(people,
    from_snapshot)``. ``registry_state``: the state of the registry's seals in the
    verified trail, which the rows must match (else :class:`IntegrityError`); None for
    an analysis that verifies nothing."""
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    cache.chmod(0o700)
    digest = fingerprint(conn)
    key = secrets.derive(_PURPOSE)
    aad = f"registry:{digest}"
    blob_path = cache / _BLOB
    if blob_path.exists():
        plain_path = work / "registry.duckdb"
        try:
            _open_file(blob_path, plain_path, key=key, aad=aad)
            found = _attach(con, plain_path, registry_state)
            if found is not None:
                return found, True
        except (IntegrityError, ValueError, duckdb.Error):
            pass  # stale (another fingerprint) or damaged
        plain_path.unlink(missing_ok=True)
    people, state = load_sealed_registry(con, conn, work, meter=meter)
    if registry_state is not None and state != registry_state:
        raise IntegrityError(
            "the registry is not as the audit trail last sealed it (a row was altered, "
            "added or removed behind Vigie's back, or it changed during the analysis); "
            "attribution refused — run `vigie audit verify`"
        )
    plain = work / "registry-new.duckdb"
    _database_of(con, people, state, plain)
    _seal_file(plain, blob_path, key=key, aad=aad)
    for old in ("reg.enc", "reg_freq.enc"):  # the Parquet snapshot of version 2
        (cache / old).unlink(missing_ok=True)
    return people, False


def prepare(
    db: Connection,
    *,
    data_dir: Path,
    secrets: InstanceSecrets,
    limit_mb: int,
    progress: Callable[[str], None] | None = None,
) -> tuple[int, bool]:
    """Build the registry snapshot now if it is missing or stale: ``(people, rebuilt)``.

    Run it after loading or changing the registry (``vigie leak prepare``) so that the
    first leak analysis does not pay for reading the whole registry. DuckDB stays within
    ``limit_mb`` (setting ``leak_memory_limit_mb``, :mod:`vigie.leaks.workspace`).
    """
    with workspace(data_dir, prefix="prepare-", limit_mb=limit_mb) as (con, work):
        meter = Meter(progress or (lambda _message: None), con)
        people, cached = load_reference(
            con, db, work=work, cache=data_dir / "leak-cache", secrets=secrets, meter=meter
        )
    return people, not cached
