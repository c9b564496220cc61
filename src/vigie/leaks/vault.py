"""Keeping leak reports encrypted at rest, and purging them on schedule.

A stored report is AES-256-GCM encrypted under ``secrets.derive("leak-vault")`` with a
random 96-bit nonce; the row id and creation time are bound as associated data, so a
ciphertext moved to another row does not decrypt. The JSON is deflated (zlib) as it is
produced, before encryption. A report is opened with any version of the key (newest
first), and :func:`rewrap` re-encrypts every stored report under a new version (the
rotation of ``instance.key``). Reports older than
``leak_retention_days`` are deleted by :func:`purge` (``vigie leak purge``), which every
analysis also runs first. Both are audited with counts only.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.errors import AuditFailure, IntegrityError, NotFound
from vigie.leaks.explain_vault import rewrap_explanations, store_explanations
from vigie.leaks.models import StoredAnalysis
from vigie.leaks.report import LeakReport
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.base import utcnow

_PURPOSE = "leak-vault"
PURPOSE = _PURPOSE


def _aad(row: StoredAnalysis) -> bytes:
    return f"leak-analysis:{row.id}:{row.created_at.isoformat()}".encode()


def _audit(session: Session, **kwargs: Any) -> int:
    try:
        from vigie.audit import trail
    except ImportError as exc:
        raise AuditFailure("the audit trail is not available; nothing was stored") from exc
    return int(trail.append(session, **kwargs))


def store_report(
    session: Session,
    *,
    report: LeakReport,
    secrets: InstanceSecrets,
    settings: Settings,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Encrypt and keep ``report``; audit ``leak:analyze`` (counts only). Returns its id."""
    now = now or utcnow()
    row = StoredAnalysis(
        created_at=now,
        purge_after=now + timedelta(days=settings.leak_retention_days),
        actor=actor,
        files=len(report.files),
        rows=report.rows,
        matched_rows=report.matched_rows,
        affected_subjects=report.affected_subjects,
        verdict=report.verdict,
        nonce=b"",
        ciphertext=b"",
    )
    session.add(row)
    session.flush()
    nonce = os.urandom(12)
    # Why each row was linked is kept apart, in blocks `vigie leak explain` opens one at
    # a time (vigie.leaks.explain_vault); the report keeps an empty list.
    plain = _compressed(report.json_chunks(explanations=False))
    row.nonce = nonce
    row.ciphertext = AESGCM(secrets.derive(_PURPOSE)).encrypt(nonce, plain, _aad(row))
    del plain  # not beside the ciphertext while the database writes it (tens of MB)
    store_explanations(
        session,
        analysis=row,
        explanations=report.explanations,
        registry_size=report.registry_size,
        match_threshold=report.match_threshold,
        secrets=secrets,
    )
    _audit(
        session,
        action=Action.LEAK_ANALYZE,
        actor=actor,
        outcome="ok",
        detail={
            "analysis_id": row.id,
            "files": len(report.files),
            "rows": report.rows,
            "rejected_rows": report.rejected_rows,
            "matched_rows": report.matched_rows,
            "affected_subjects": report.affected_subjects,
            "canary_rows": report.canary_rows,
            "verdict": report.verdict,
            "attributed_processor_ids": [a["processor_id"] for a in report.attribution],
        },
    )
    session.flush()
    return row.id


def load_report(session: Session, *, analysis_id: int, secrets: InstanceSecrets) -> dict[str, Any]:
    """Decrypt a stored report."""
    row = session.get(StoredAnalysis, analysis_id)
    if row is None:
        raise NotFound(f"no stored leak analysis {analysis_id} (purged or never stored)")
    plain = _open(row, secrets)
    if plain[:1] == b"x":  # zlib (reports stored since the memory bound); else plain JSON
        plain = zlib.decompress(plain)
    data: dict[str, Any] = json.loads(plain)
    return data


def _open(row: StoredAnalysis, secrets: InstanceSecrets) -> bytes:
    """The stored plain bytes of ``row``, under whichever version of the key sealed it."""
    for version in secrets.all_versions(_PURPOSE):
        key = secrets.derive_version(_PURPOSE, version)
        try:
            return AESGCM(key).decrypt(row.nonce, row.ciphertext, _aad(row))
        except InvalidTag:
            continue
    raise IntegrityError(f"stored leak analysis {row.id} does not decrypt")


def rewrap(session: Session, *, old: InstanceSecrets, new: InstanceSecrets) -> int:
    """Re-encrypt every stored report opened with ``old`` under ``new``'s current key, with
    a fresh nonce, in the caller's transaction (their explanation blocks too); return how
    many reports."""
    key = AESGCM(new.derive(_PURPOSE))
    count = 0
    for row in session.scalars(select(StoredAnalysis).order_by(StoredAnalysis.id)):
        plain = _open(row, old)
        row.nonce = os.urandom(12)
        row.ciphertext = key.encrypt(row.nonce, plain, _aad(row))
        count += 1
    session.flush()
    rewrap_explanations(session, old=old, new=new)
    return count


def _compressed(chunks: Iterable[bytes]) -> bytearray:
    """The report's JSON, deflated as it is produced: a report of millions of people is
    mostly ``ref`` strings and repeated field lists, stored at a fraction of its size and
    never held whole uncompressed."""
    packer = zlib.compressobj(6)
    out = bytearray()  # grown in place: never the pieces and their join at once
    for chunk in chunks:
        out += packer.compress(chunk)
    out += packer.flush()
    return out


def list_reports(session: Session) -> Sequence[StoredAnalysis]:
    """Stored analyses, newest first (clear-text counts only)."""
    return session.scalars(select(StoredAnalysis).order_by(StoredAnalysis.id.desc())).all()


def purge(session: Session, *, actor: str, now: datetime | None = None) -> int:
    """Delete every stored analysis past its retention; audit ``leak:purge``. Returns the count."""
    now = now or utcnow()
    ids = list(session.scalars(select(StoredAnalysis.id).where(StoredAnalysis.purge_after <= now)))
    if not ids:
        return 0
    session.execute(delete(StoredAnalysis).where(StoredAnalysis.id.in_(ids)))
    _audit(
        session,
        action=Action.LEAK_PURGE,
        actor=actor,
        detail={"purged": len(ids), "analysis_ids": ids},
    )
    return len(ids)
