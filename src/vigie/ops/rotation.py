"""``vigie secrets rotate KIND``: new keys, with every proof, code and attribution kept valid.

- ``audit-signing``: a new Ed25519 checkpoint key. In one transaction: a last checkpoint
  by the retiring key, an ``audit:key-rotate`` event (both fingerprints, the time, both
  keys' signatures over the rotation), a first checkpoint by the new key; then the key
  history (:mod:`vigie.audit.keyring`) gains the new key, and the retiring private key is
  replaced (its public half stays in the history, valid for checkpoints up to the
  rotation's time only).
- ``notice-codes``: a new version of the notice-code key; codes of earlier notices still
  verify (every version is tried, :func:`vigie.breach.codes.verify_code`).
- ``webhook``: a new version of each webhook key (:data:`vigie.ops.webhooks.PURPOSES`);
  the previous one stays valid for ``webhook_rotation_overlap_hours``.
- ``pseudonyms``: a new version of one processor's pseudonym key, and the one-time
  mapping old → new it is owed (:mod:`vigie.fingerprint.rotation`); attribution tries
  every version, so leaks made with old pseudonyms still name it.
- ``instance-key``: a new ``instance.key``, the root every derived key comes from. The
  retired instance keys are re-wrapped under the new one (``instance-keys.json``), so
  every existing version of every derived key still derives (pseudonyms processors hold,
  lookup tags, codes sent). What can move off the old key does, in the same
  transaction: new versions, from the new key, of :data:`REWRAPPED` (the stored leak
  reports, re-encrypted now; notice codes; webhooks, with their overlap; the seal of
  queued contacts, still opened under the old version too).

Each is audited in the same transaction as the change, and fails closed: the secrets
files are written before the commit and put back as they were if anything fails, so
there is never a new key without its audit event, nor an audit event without its key.
Once committed, each rotation rewrites the ``generation`` file of the secrets directory
(:func:`vigie.secrets.publish_generation`): running processes (``vigie serve``, ``vigie
worker``) look at it every ``secrets_reload_seconds`` and reload the keys, without a
restart. Until then a server holding a retired audit key refuses to sign (see
:func:`vigie.audit.checkpoints.take`) and looks again at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.keyring import FILE as KEY_HISTORY
from vigie.audit.models import to_us
from vigie.audit.trail import append
from vigie.breach.codes import PURPOSE as NOTICE_CODE
from vigie.errors import NotFound
from vigie.fingerprint.pseudonyms import purpose as pseudonym_purpose
from vigie.fingerprint.rotation import record_rotation
from vigie.leaks.vault import PURPOSE as LEAK_VAULT
from vigie.leaks.vault import rewrap
from vigie.ops.webhooks import PURPOSES as WEBHOOKS
from vigie.processors.models import Processor
from vigie.public.contacts import SEAL_PURPOSE as CONTACT_SEAL
from vigie.secrets import (
    INSTANCE_KEY,
    INSTANCE_KEYS,
    KEY_VERSIONS,
    SIGNING_KEY,
    SIGNING_PUB,
    InstanceSecrets,
    add_versions,
    load_secrets,
    publish_generation,
    replace_file,
    wrap_retired,
)
from vigie.store.base import utcnow

KINDS = ("audit-signing", "notice-codes", "webhook", "pseudonyms", "instance-key")
REWRAPPED = (LEAK_VAULT, NOTICE_CODE, *WEBHOOKS.values(), CONTACT_SEAL)
"""Purposes that get a new version from the new instance key when it is rotated."""


@dataclass(frozen=True)
class Rotated:
    """What a rotation did: its kind and the facts to show (no secret among them)."""

    kind: str
    facts: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _restored_on_failure(directory: Path, names: tuple[str, ...]) -> Iterator[None]:
    """Put the files ``names`` of ``directory`` back as they were if the block fails.

    Each existing file is kept by a hard link (``replace_file`` writes a new file and
    renames it over, so the link keeps the old content) and renamed back on failure.
    """
    kept: dict[str, Path | None] = {}
    for name in names:
        path = directory / name
        kept[name] = None
        if path.exists():
            before = directory / f".{name}.before-rotation"
            before.unlink(missing_ok=True)
            os.link(path, before)
            kept[name] = before
    try:
        yield
    except BaseException:
        for name, saved in kept.items():
            if saved is None:
                (directory / name).unlink(missing_ok=True)
            else:
                os.replace(saved, directory / name)
        raise
    for saved in kept.values():
        if saved is not None:
            saved.unlink()


def rotate_audit_key(
    sessions: sessionmaker[Session],
    *,
    directory: Path,
    secrets: InstanceSecrets,
    actor: str,
    now: datetime | None = None,
) -> Rotated:
    """Retire the audit signing key for a new one (see the module's docstring)."""
    old = secrets.signing_key
    new = Ed25519PrivateKey.generate()
    files = (SIGNING_KEY, SIGNING_PUB, KEY_HISTORY)
    with _restored_on_failure(directory, files), sessions.begin() as session:
        at = now or utcnow()
        last_old = take(session, signing_key=old, actor=actor, now=at)
        history, rotation = secrets.audit_keys.rotated(old=old, new=new, at_us=to_us(at))
        raw = new.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        append(
            session,
            action=Action.AUDIT_KEY_ROTATE,
            actor=actor,
            detail={**rotation, "public_key": raw.hex()},
            at=at,
        )
        first_new = take(session, signing_key=new, actor=actor, now=at, succeeds=rotation["old"])
        assert last_old is not None and first_new is not None
        replace_file(directory / KEY_HISTORY, history.to_json(), 0o644)
        pem = new.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        replace_file(directory / SIGNING_KEY, pem)
        pub = new.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        replace_file(directory / SIGNING_PUB, pub, 0o644)
    publish_generation(directory)
    return Rotated(
        "audit-signing",
        {
            "old": rotation["old"],
            "new": rotation["new"],
            "at_us": rotation["at_us"],
            "last_checkpoint_old_key": last_old.id,
            "first_checkpoint_new_key": first_new.id,
        },
    )


def _rotate_versions(
    sessions: sessionmaker[Session],
    *,
    directory: Path,
    kind: str,
    purposes: list[str],
    actor: str,
    now: datetime | None,
    before_commit: Callable[[Session, dict[str, int]], None] | None = None,
    processor_id: int | None = None,
) -> dict[str, int]:
    """Start a new version of each purpose's key, audited; return their numbers."""
    with _restored_on_failure(directory, (KEY_VERSIONS,)), sessions.begin() as session:
        at = now or utcnow()
        added = add_versions(directory, purposes, at_us=to_us(at))
        versions = {p: v.version for p, v in added.items()}
        if before_commit is not None:
            before_commit(session, versions)
        else:
            append(
                session,
                action=Action.SECRET_ROTATE,
                actor=actor,
                processor_id=processor_id,
                detail={"kind": kind, "versions": versions},
                at=at,
            )
    publish_generation(directory)
    return versions


def rotate_notice_codes(
    sessions: sessionmaker[Session], *, directory: Path, actor: str, now: datetime | None = None
) -> Rotated:
    """A new notice-code key; codes already sent keep verifying."""
    versions = _rotate_versions(
        sessions, directory=directory, kind="notice-codes", purposes=[NOTICE_CODE],
        actor=actor, now=now,
    )  # fmt: skip
    return Rotated("notice-codes", {"version": versions[NOTICE_CODE]})


def rotate_webhooks(
    sessions: sessionmaker[Session],
    *,
    directory: Path,
    actor: str,
    overlap_hours: float,
    now: datetime | None = None,
) -> Rotated:
    """New keys for every webhook; the previous ones stay valid for ``overlap_hours``."""
    versions = _rotate_versions(
        sessions, directory=directory, kind="webhook", purposes=list(WEBHOOKS.values()),
        actor=actor, now=now,
    )  # fmt: skip
    return Rotated("webhook", {"versions": versions, "overlap_hours": overlap_hours})


def rotate_pseudonyms(
    sessions: sessionmaker[Session],
    *,
    directory: Path,
    processor: str,
    actor: str,
    now: datetime | None = None,
) -> Rotated:
    """A new pseudonym key for ``processor``, and its one-time mapping to fetch."""
    with sessions() as session:
        processor_id = session.scalar(select(Processor.id).where(Processor.name == processor))
    if processor_id is None:
        raise NotFound(f"no processor named {processor!r}")
    purpose = pseudonym_purpose(processor_id)
    at = now or utcnow()
    rotation_id: list[int] = []

    def record(session: Session, versions: dict[str, int]) -> None:
        row = record_rotation(
            session, processor_id=processor_id, from_version=versions[purpose] - 1,
            to_version=versions[purpose], actor=actor, now=at,
        )  # fmt: skip
        rotation_id.append(row.id)

    versions = _rotate_versions(
        sessions, directory=directory, kind="pseudonyms", purposes=[purpose], actor=actor,
        now=at, before_commit=record, processor_id=processor_id,
    )  # fmt: skip
    return Rotated(
        "pseudonyms",
        {"processor": processor, "from": versions[purpose] - 1, "to": versions[purpose],
         "rotation": rotation_id[0]},
    )  # fmt: skip


def rotate_instance_key(
    sessions: sessionmaker[Session],
    *,
    directory: Path,
    secrets: InstanceSecrets,
    actor: str,
    now: datetime | None = None,
) -> Rotated:
    """A new ``instance.key``; every retired one re-wrapped under it (see the module)."""
    at = now or utcnow()
    epoch = secrets.epoch + 1
    master = os.urandom(32)
    retired = {**secrets.retired, secrets.epoch: secrets.master}
    files = (INSTANCE_KEY, INSTANCE_KEYS, KEY_VERSIONS)
    with _restored_on_failure(directory, files), sessions.begin() as session:
        replace_file(directory / INSTANCE_KEYS, wrap_retired(master, retired, epoch=epoch))
        replace_file(directory / INSTANCE_KEY, master)
        added = add_versions(directory, list(REWRAPPED), at_us=to_us(at), epoch=epoch)
        fresh = load_secrets(directory)
        reports = rewrap(session, old=secrets, new=fresh)
        versions = {p: v.version for p, v in added.items()}
        append(
            session,
            action=Action.SECRET_ROTATE,
            actor=actor,
            detail={
                "kind": "instance-key",
                "epoch": epoch,
                "retired": len(retired),
                "versions": versions,
                "reports_reencrypted": reports,
            },
            at=at,
        )
    publish_generation(directory)
    return Rotated(
        "instance-key",
        {"epoch": epoch, "retired": len(retired), "versions": versions, "reports": reports},
    )
