"""Inclusion and consistency proofs against signed checkpoints.

A proof is built from the events' entry hashes (the Merkle leaves) and checked before
it is returned, so Vigie never hands out a proof that does not verify. Anyone can check
one with only the checkpoint's public key: see :func:`check_inclusion` and the
standalone verifier written by ``vigie audit export``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import merkle, tiles
from vigie.audit.canonical import decode_subjects
from vigie.audit.checkpoints import latest, message
from vigie.audit.models import EVENTS, AuditCheckpoint, AuditEvent, from_us
from vigie.audit.pruning import PRUNED
from vigie.errors import IntegrityError, NotFound


def record(row: Any) -> dict[str, Any]:
    """The plain form of one event row, as exported (and embedded in proofs)."""
    return {
        "seq": row.seq,
        "at": from_us(row.at_us).isoformat(),
        "at_us": row.at_us,
        "actor": row.actor,
        "processor_id": row.processor_id,
        "key_id": row.key_id,
        "origin": row.origin,
        "action": row.action,
        "purpose": row.purpose,
        "subjects": decode_subjects(bytes(row.subjects)),
        "fields": row.fields.split(",") if row.fields else [],
        "outcome": row.outcome,
        "detail": row.detail,
        "prev_hash": bytes(row.prev_hash).hex(),
        "hash": bytes(row.entry_hash).hex(),
    }


@dataclass(frozen=True)
class SignedHead:
    """The public part of a checkpoint: enough to check a proof against it."""

    id: int
    size: int
    root: bytes
    at_us: int
    signature: bytes

    @classmethod
    def of(cls, cp: AuditCheckpoint) -> SignedHead:
        return cls(id=cp.id, size=cp.size, root=cp.root, at_us=cp.at_us, signature=cp.signature)

    def check(self, public_key: Ed25519PublicKey) -> None:
        """Raise ``IntegrityError`` unless ``public_key`` signed this head."""
        try:
            public_key.verify(self.signature, message(self.size, self.root, self.at_us))
        except Exception:  # InvalidSignature; any failure is a refusal
            raise IntegrityError(f"checkpoint #{self.id}: signature does not verify") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "root": self.root.hex(),
            "at_us": self.at_us,
            "at": from_us(self.at_us).isoformat(),
            "signature": self.signature.hex(),
        }


@dataclass(frozen=True)
class InclusionProof:
    """Event ``seq`` (leaf ``seq - 1``, hash ``leaf``) is in the tree of ``checkpoint``."""

    seq: int
    leaf: bytes
    path: list[bytes]
    checkpoint: SignedHead
    event: dict[str, Any] | None = None  # the event in exported form, to recompute ``leaf``

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "inclusion",
            "seq": self.seq,
            "event": self.event,
            "leaf_index": self.seq - 1,
            "leaf_hash": self.leaf.hex(),
            "path": [p.hex() for p in self.path],
            "checkpoint": self.checkpoint.to_json(),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``old`` is a prefix of the tree of ``new``."""

    old: SignedHead
    new: SignedHead
    path: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "consistency",
            "old": self.old.to_json(),
            "new": self.new.to_json(),
            "path": [p.hex() for p in self.path],
        }


def _checkpoint(session: Session, checkpoint_id: int | None) -> AuditCheckpoint:
    cp = latest(session) if checkpoint_id is None else session.get(AuditCheckpoint, checkpoint_id)
    if cp is None:
        which = (
            "no checkpoint yet; run `vigie audit checkpoint`"
            if checkpoint_id is None
            else f"no checkpoint #{checkpoint_id}"
        )
        raise NotFound(which)
    return cp


def inclusion(session: Session, *, seq: int, checkpoint_id: int | None = None) -> InclusionProof:
    """Prove event ``seq`` is in checkpoint ``checkpoint_id`` (default: the latest)."""
    cp = _checkpoint(session, checkpoint_id)
    event = session.get(AuditEvent, seq)
    if event is None:
        raise NotFound(f"no event {seq}")
    if seq > cp.size:
        raise NotFound(f"event {seq} is newer than checkpoint #{cp.id} ({cp.size} events)")
    if event.outcome == PRUNED:
        raise NotFound(
            f"event {seq} was pruned past the audit retention: the people it named are gone, "
            "and its contents no longer hash to its leaf, so no proof can show them"
        )
    path = merkle.inclusion_proof(seq - 1, cp.size, tiles.Subtrees(session.connection()))
    row = session.execute(select(EVENTS).where(EVENTS.c.seq == seq)).one()
    proof = InclusionProof(
        seq=seq,
        leaf=bytes(event.entry_hash),
        path=path,
        checkpoint=SignedHead.of(cp),
        event=record(row),
    )
    try:
        merkle.verify_inclusion(seq - 1, cp.size, proof.leaf, path, cp.root)
    except merkle.ProofError as exc:
        raise IntegrityError(f"event {seq} is not in checkpoint #{cp.id}: {exc}") from None
    return proof


def consistency(session: Session, *, old_id: int, new_id: int) -> ConsistencyProof:
    """Prove checkpoint ``old_id``'s tree is a prefix of checkpoint ``new_id``'s."""
    old, new = _checkpoint(session, old_id), _checkpoint(session, new_id)
    if old.size > new.size:
        raise NotFound(f"checkpoint #{old_id} ({old.size}) is larger than #{new_id} ({new.size})")
    path = merkle.consistency_proof(old.size, new.size, tiles.Subtrees(session.connection()))
    try:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, path)
    except merkle.ProofError as exc:
        raise IntegrityError(f"checkpoints #{old_id} and #{new_id} disagree: {exc}") from None
    return ConsistencyProof(old=SignedHead.of(old), new=SignedHead.of(new), path=path)


def check_inclusion(proof: InclusionProof, *, public_key: Ed25519PublicKey) -> None:
    """Check a proof offline: the head's signature, then the audit path."""
    proof.checkpoint.check(public_key)
    cp = proof.checkpoint
    try:
        merkle.verify_inclusion(proof.seq - 1, cp.size, proof.leaf, proof.path, cp.root)
    except merkle.ProofError as exc:
        raise IntegrityError(str(exc)) from None


def check_consistency(proof: ConsistencyProof, *, public_key: Ed25519PublicKey) -> None:
    """Check a consistency proof offline: both signatures, then the path."""
    proof.old.check(public_key)
    proof.new.check(public_key)
    try:
        merkle.verify_consistency(
            proof.old.size, proof.new.size, proof.old.root, proof.new.root, proof.path
        )
    except merkle.ProofError as exc:
        raise IntegrityError(str(exc)) from None
