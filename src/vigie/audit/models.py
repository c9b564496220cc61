"""Tables of vigie.audit: the trail, its unsequenced tail, head, checkpoints, served index.

Times are integer microseconds since the Unix epoch (UTC) so that the canonical encoding
is the same on every database. Nothing here has a foreign key: the trail outlives the
processors, keys and people it mentions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from vigie.store.base import Base


def from_us(at_us: int) -> datetime:
    """A UTC datetime from integer microseconds since the epoch."""
    return datetime.fromtimestamp(at_us // 1_000_000, UTC).replace(microsecond=at_us % 1_000_000)


def to_us(at: datetime) -> int:
    """Integer microseconds since the epoch of an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# On SQLite a primary key is the table's own B-tree (rowid) only when typed INTEGER.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    """One event of the append-only trail (see :mod:`vigie.audit.canonical` for its hash)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    at_us: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    processor_id: Mapped[int | None] = mapped_column(Integer)
    key_id: Mapped[int | None] = mapped_column(Integer)
    origin: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str | None] = mapped_column(String(100))
    subjects: Mapped[bytes] = mapped_column(LargeBinary)  # delta-varint of sorted ids
    fields: Mapped[str] = mapped_column(Text)  # sorted names joined by ","
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)  # JSON text, ids and counts only
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    @property
    def at(self) -> datetime:
        return from_us(self.at_us)


class AuditPending(Base):
    """An event committed durably but not yet sequenced (:mod:`vigie.audit.sequencer`).

    The gateway inserts here, taking no lock that another processor's request shares; the
    sequencer moves each row into ``audit_events`` (assigning ``seq`` and the hashes) and
    deletes it in the same transaction, so a row is integrated once or not at all. ``id``
    only says which rows exist: the chain's order is the order of integration.
    """

    __tablename__ = "audit_pending"

    id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    at_us: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    processor_id: Mapped[int | None] = mapped_column(Integer)
    key_id: Mapped[int | None] = mapped_column(Integer)
    origin: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str | None] = mapped_column(String(100))
    subjects: Mapped[bytes] = mapped_column(LargeBinary)
    fields: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)


class AuditHead(Base):
    """The single row (id 1) every append locks: size and hash of the last event."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditSequencerLease(Base):
    """The single row (id 1) naming the elected sequencer (:mod:`vigie.audit.election`).

    ``epoch`` is the fencing token, bumped at each takeover; ``expires_us`` is on the
    database's clock. PostgreSQL only: on SQLite the serving process is the sequencer.
    """

    __tablename__ = "audit_sequencer_lease"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(64))  # host:pid:nonce, for operators
    expires_us: Mapped[int] = mapped_column(BigInteger)


class AuditCheckpoint(Base):
    """A signed tree head: the first ``size`` events have Merkle root ``root``."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    at_us: Mapped[int] = mapped_column(BigInteger)
    key_fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the public key
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    frontier: Mapped[bytes] = mapped_column(LargeBinary)  # perfect-subtree roots, to extend

    @property
    def at(self) -> datetime:
        return from_us(self.at_us)


class AuditTile(Base):
    """Root of the perfect subtree of ``2**level`` leaves number ``idx`` (a proof cache).

    Written when checkpoints are taken, so a proof reads a few hundred tiles instead of
    every leaf. Not trusted: every proof is checked against a signed root before use.
    """

    __tablename__ = "audit_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = ({"sqlite_with_rowid": False},)


class AuditReceipt(Base):
    """Served index: processor ``processor_id`` received person ``subject_id`` with ``fields``.

    One row per distinct field set (a processor usually has one or two views), so each
    disclosure updates its row with a plain UPSERT; readers merge the rows of a pair.
    """

    __tablename__ = "audit_receipts"

    # Key order serves the question asked of it: "who received person X?"
    subject_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processor_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fields: Mapped[str] = mapped_column(String(1000), primary_key=True)  # sorted, ","
    first_us: Mapped[int] = mapped_column(BigInteger)
    last_us: Mapped[int] = mapped_column(BigInteger)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = ({"sqlite_with_rowid": False},)


class AuditDisclosure(Base):
    """Served index: one row per person disclosed by one event, for time-range questions."""

    __tablename__ = "audit_disclosures"

    # Key order serves "whom did processor P receive between t1 and t2?" with one B-tree.
    processor_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at_us: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)

    __table_args__ = ({"sqlite_with_rowid": False},)


class AuditProcessorField(Base):
    """Served index: field ``field`` has been disclosed to processor ``processor_id``."""

    __tablename__ = "audit_processor_fields"

    processor_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


class AuditSealHead(Base):
    """The last seal of one bucket of a sealed table (:mod:`vigie.audit.seals`).

    A cache of what the chained events say, so a writer finds the last seal of the
    bucket it changes without reading the trail; ``vigie audit verify`` checks that it
    equals the events. ``digest`` is None when the bucket was sealed empty.
    """

    __tablename__ = "audit_seal_heads"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    __table_args__ = ({"sqlite_with_rowid": False},)


EVENTS = cast(Table, AuditEvent.__table__)
HEAD = cast(Table, AuditHead.__table__)
PENDING = cast(Table, AuditPending.__table__)
LEASE = cast(Table, AuditSequencerLease.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
TILES = cast(Table, AuditTile.__table__)
RECEIPTS = cast(Table, AuditReceipt.__table__)
DISCLOSURES = cast(Table, AuditDisclosure.__table__)
PROCESSOR_FIELDS = cast(Table, AuditProcessorField.__table__)
SEAL_HEADS = cast(Table, AuditSealHead.__table__)
