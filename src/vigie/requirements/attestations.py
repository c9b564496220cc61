"""Attestations: a processor's statement that it meets an attested requirement.

Recorded by the DPO (``vigie requirements attest``) or sent by the processor itself
(``POST /api/v1/attestations``, :mod:`vigie.requirements.api`). Either way:

- the requirement must be in the baseline and of kind ``attested``;
- the evidence is a PDF (``%PDF-`` magic) of at most :data:`MAX_DOCUMENT_BYTES`;
- the expiry must be after today; an expired attestation counts as missing;
- from the API, the statement must be signed by the processor's ``statement_key``
  (Ed25519) over :func:`signed_bytes`; a processor may attest only for itself (the key's
  processor).

Every check runs before anything is written: a refused attestation leaves no row, no
file and no event. The document is stored under its SHA-256 (content-addressed) in
``DATA_DIR/attestations``, and the ``attestation:submit`` event records that hash, the
requirement version and the expiry, so the evidence a dossier quotes is in the trail.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import Denied, InvalidInput, NotFound
from vigie.processors.models import Processor
from vigie.requirements.models import Attestation, RequirementVersion

MAX_DOCUMENT_BYTES = 5_000_000
MAX_STATEMENT = 2000
PDF_MAGIC = b"%PDF-"
SIGNATURE_CONTEXT = "vigie-attestation/v1"


class DocumentRejected(InvalidInput):
    """The evidence file is too large, empty or not a PDF."""


@dataclass(frozen=True)
class Submission:
    """An attestation as sent, before any check."""

    requirement: str
    statement: str
    expires_on: date
    document: bytes
    signature: str | None = None  # hex; required from the API


def check_document(data: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The document's SHA-256 (hex), or :class:`DocumentRejected` saying why."""
    if not data:
        raise DocumentRejected("the evidence document is empty")
    if len(data) > max_bytes:
        raise DocumentRejected(f"the evidence document is larger than {max_bytes} bytes")
    if not data.startswith(PDF_MAGIC):
        raise DocumentRejected("the evidence document is not a PDF (it must start with %PDF-)")
    return hashlib.sha256(data).hexdigest()


def signed_bytes(
    *, processor: str, requirement: str, version: int, expires_on: date, document_sha256: str,
    statement: str,
) -> bytes:  # fmt: skip
    """What the processor signs: one field a line, the statement by its SHA-256."""
    statement_sha = hashlib.sha256(statement.encode("utf-8")).hexdigest()
    return (
        f"{SIGNATURE_CONTEXT}\n{processor}\n{requirement}\n{version}\n{expires_on.isoformat()}\n"
        f"{document_sha256}\n{statement_sha}\n"
    ).encode()


def check_signature(processor: Processor, message: bytes, signature: str | None) -> None:
    """Raise :class:`Denied` unless ``signature`` is the processor's over ``message``."""
    if not processor.statement_key:
        raise Denied(
            f"processor {processor.name!r} has no statement_key: declare one in the processors "
            "file to sign attestations"
        )
    try:
        raw = bytes.fromhex(signature or "")
        if len(raw) != 64:
            raise ValueError
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(processor.statement_key))
        key.verify(raw, message)
    except (ValueError, InvalidSignature):
        raise Denied("the attestation's signature does not verify with the processor's "
                     "statement_key") from None  # fmt: skip


def attested_version(session: Session, *, requirement: str) -> RequirementVersion:
    """The latest version of ``requirement``, which must be an attested one."""
    row = session.scalar(
        select(RequirementVersion)
        .where(RequirementVersion.requirement == requirement)
        .order_by(RequirementVersion.version.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound(f"no requirement {requirement!r} in the baseline")
    if row.kind != "attested":
        raise InvalidInput(f"requirement {requirement!r} is {row.kind}, not attested")
    return row


def _store(directory: Path, digest: str, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{digest}.pdf"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)


def record_attestation(
    session: Session,
    *,
    processor: Processor,
    submission: Submission,
    actor: str,
    store_dir: Path,
    now: datetime,
    require_signature: bool,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> Attestation:
    """Check ``submission`` for ``processor`` whole, then store it (see the module docstring)."""
    statement = " ".join(submission.statement.split())
    if not statement or len(statement) > MAX_STATEMENT or not statement.isprintable():
        raise InvalidInput(f"the statement must be printable text of 1 to {MAX_STATEMENT} "
                           "characters")  # fmt: skip
    if submission.expires_on <= now.date():
        raise InvalidInput(f"the expiry {submission.expires_on} is not after today")
    version = attested_version(session, requirement=submission.requirement)
    digest = check_document(submission.document, max_bytes=max_bytes)
    if require_signature:
        message = signed_bytes(
            processor=processor.name, requirement=version.requirement, version=version.version,
            expires_on=submission.expires_on, document_sha256=digest,
            statement=submission.statement,
        )  # fmt: skip
        check_signature(processor, message, submission.signature)
    name = f"{digest}.pdf"
    seq = trail.append(
        session,
        action=Action.ATTESTATION_SUBMIT,
        actor=actor,
        processor_id=processor.id,
        detail={
            "requirement": version.requirement,
            "version": version.version,
            "document_sha256": digest,
            "document_bytes": len(submission.document),
            "expires_on": submission.expires_on.isoformat(),
            "signed": require_signature,
        },
        at=now,
    )
    row = Attestation(
        processor_id=processor.id,
        requirement=version.requirement,
        version=version.version,
        statement=statement,
        document_sha256=digest,
        document_bytes=len(submission.document),
        document_name=name,
        expires_on=submission.expires_on,
        signature=submission.signature if require_signature else None,
        submitted_by=actor,
        submitted_at=now,
        audit_seq=seq,
    )
    session.add(row)
    session.flush()
    # Last: a failure to write rolls the caller's transaction back (no row, no event); a
    # transaction that fails after this leaves an unreferenced file, which
    # :func:`unreferenced_documents` finds (``vigie retention run`` removes it).
    _store(store_dir, digest, submission.document)
    return row


def attestations_dir(data_dir: Path) -> Path:
    """Where evidence documents are kept."""
    return data_dir / "attestations"


def unreferenced_documents(session: Session, store_dir: Path, *, before: datetime) -> list[Path]:
    """Files in ``store_dir`` no attestation refers to, last written before ``before``.

    They are what a transaction that failed after :func:`_store` left behind (or an upload
    cut short before its rename). Only files older than ``before`` count: a file written
    by a transaction still open is not yet referenced, and must not be taken for debris —
    the caller passes a time far older than any transaction (a day).
    """
    if not store_dir.is_dir():
        return []
    kept = set(session.scalars(select(Attestation.document_name)))
    cutoff = before.timestamp()
    return sorted(
        path
        for path in store_dir.iterdir()
        if path.is_file() and path.name not in kept and path.stat().st_mtime < cutoff
    )
