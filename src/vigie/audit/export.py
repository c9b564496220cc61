"""Export the trail as plain files that a regulator can check without Vigie.

``export_trail`` first verifies the trail (a broken trail is not exported; run
``vigie audit verify`` to see where), signs a fresh checkpoint, then writes every event
up to that checkpoint and every checkpoint up to it, so the export is covered by
signatures end to end: removing, adding or changing any line fails the standalone
verifier (:mod:`vigie.audit.offline`, copied as ``verify_trail.py``). Every earlier
checkpoint is announced by an ``audit:checkpoint`` event inside the export; the fresh
one's own announcement (event ``size + 1``) is recorded after it and is not exported,
which is why the verifier lets the last checkpoint alone go unannounced. The export
carries the history of the audit keys (``audit-keys.json``, :mod:`vigie.audit.keyring`),
so checkpoints signed before a key rotation verify with the key of their time. The
verifier checks it against the signing key's fingerprint (the current one, or any earlier
one), which the recipient must learn independently (:mod:`vigie.audit.key`): the key
inside the export does not vouch for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import offline
from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.key import AuditKey
from vigie.audit.models import CHECKPOINTS, EVENTS
from vigie.audit.proofs import SignedHead, record
from vigie.audit.sequencer import integrate_all
from vigie.audit.trail import append
from vigie.audit.verify import verify_trail
from vigie.errors import InvalidInput
from vigie.secrets import InstanceSecrets

FILES = (
    "events.jsonl",
    "checkpoints.jsonl",
    "audit-signing.pub.pem",
    offline.KEY_HISTORY,
    "verify_trail.py",
)


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    directory: Path
    events: int
    checkpoints: int
    checkpoint_id: int
    root: bytes
    key: AuditKey
    """The key that signed it: recipients check the export against its fingerprint."""


def export_trail(
    engine: Engine,
    sessions: sessionmaker[Session],
    *,
    out: Path,
    secrets: InstanceSecrets,
    actor: str,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Integrate, verify, checkpoint and write the trail into the new or empty ``out``."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} exists and is not an empty directory")
    integrate_all(engine)  # what was committed is exported, not left pending
    verify_trail(engine, public_key=secrets.audit_keys)
    with sessions.begin() as session:
        cp = take(session, signing_key=secrets.signing_key, actor=actor)
        assert cp is not None
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    with sessions() as session, (out / "events.jsonl").open("wb") as f:
        rows = session.execute(
            select(EVENTS).where(EVENTS.c.seq <= cp.size).order_by(EVENTS.c.seq),
            execution_options={"yield_per": 10_000},
        )
        for row in rows:
            f.write(orjson.dumps(record(row)) + b"\n")
            n += 1
            if progress is not None and n % 10_000 == 0:
                progress(n)
        heads = session.execute(
            select(CHECKPOINTS).where(CHECKPOINTS.c.id <= cp.id).order_by(CHECKPOINTS.c.id)
        ).all()
    with (out / "checkpoints.jsonl").open("wb") as f:
        for h in heads:
            head = SignedHead(
                id=h.id,
                size=h.size,
                root=bytes(h.root),
                at_us=h.at_us,
                signature=bytes(h.signature),
            )
            f.write(orjson.dumps(head.to_json()) + b"\n")
    (out / "audit-signing.pub.pem").write_text(AuditKey.of(secrets.verify_key).pem, "ascii")
    (out / offline.KEY_HISTORY).write_bytes(secrets.audit_keys.to_json())
    shutil.copyfile(offline.__file__, out / "verify_trail.py")
    with sessions.begin() as session:
        append(
            session,
            action=Action.AUDIT_EXPORT,
            actor=actor,
            detail={"events": n, "checkpoint": cp.id},
        )
    return ExportReport(
        directory=out,
        events=n,
        checkpoints=len(heads),
        checkpoint_id=cp.id,
        root=cp.root,
        key=AuditKey.of(secrets.verify_key),
    )
