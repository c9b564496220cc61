"""What Vigie holds about a processor at a moment, as plain values for the checks.

Read once per processor (:func:`gather`), then judged by the pure functions of
:mod:`vigie.requirements.checks`. ``at`` may be in the past (a dossier judges a provider
at the time of an incident): keys, attestations and audits are taken as they stood then.
Contracts are taken as they are now (Vigie keeps their history in the audit trail, not
in the table), and a key's last use is known only as its latest use
(:class:`vigie.detection.models.KeyActivity`), so a key used after ``at`` counts as used
at ``at``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.detection.models import KeyActivity
from vigie.processors.models import ApiKey, Contract, Processor
from vigie.requirements.models import Attestation, Inspection


@dataclass(frozen=True)
class KeyFacts:
    """One key usable at ``at`` (issued, not revoked, not expired, not suspended)."""

    key_id: int
    created_at: datetime
    expires_at: datetime | None
    allowed_cidrs: tuple[str, ...]
    last_used_at: datetime | None


@dataclass(frozen=True)
class ContractFacts:
    """One contract in force on ``at``'s day."""

    name: str
    reference: str
    budget_per_day: int
    expected_per_day: int | None


@dataclass(frozen=True)
class AttestationFacts:
    """An attestation submitted by ``at``."""

    attestation_id: int
    requirement: str
    version: int
    expires_on: date
    document_sha256: str
    audit_seq: int


@dataclass(frozen=True)
class InspectionFacts:
    """A controller's audit held by ``at``."""

    inspection_id: int
    held_on: date
    open_findings_past_deadline: int
    audit_seq: int


@dataclass(frozen=True)
class ProcessorFacts:
    """Everything the checks need about one processor."""

    processor_id: int
    name: str
    security_officer: str | None
    security_contact_247: str | None
    at: datetime
    keys: tuple[KeyFacts, ...]
    contracts: tuple[ContractFacts, ...]
    attestations: tuple[AttestationFacts, ...]
    inspections: tuple[InspectionFacts, ...]


def _usable(key: ApiKey, at: datetime) -> bool:
    if key.created_at > at:
        return False
    if key.revoked_at is not None and key.revoked_at <= at:
        return False
    if key.suspended_at is not None and key.suspended_at <= at:
        return False
    return key.expires_at is None or key.expires_at > at


def gather(session: Session, *, processor: Processor, at: datetime) -> ProcessorFacts:
    """The facts about ``processor`` at ``at``."""
    last_use = {
        row.key_id: row.last_at
        for row in session.scalars(
            select(KeyActivity).where(KeyActivity.processor_id == processor.id)
        )
        if row.first_at <= at
    }
    keys = tuple(
        KeyFacts(
            key_id=k.id,
            created_at=k.created_at,
            expires_at=k.expires_at,
            allowed_cidrs=tuple(k.allowed_cidrs or ()),
            last_used_at=min(last_use[k.id], at) if k.id in last_use else None,
        )
        for k in session.scalars(
            select(ApiKey).where(ApiKey.processor_id == processor.id).order_by(ApiKey.id)
        )
        if _usable(k, at)
    )
    day = at.date()
    contracts = tuple(
        ContractFacts(c.name, c.reference, c.budget_per_day, c.expected_per_day)
        for c in session.scalars(
            select(Contract).where(Contract.processor_id == processor.id).order_by(Contract.name)
        )
        if c.valid_from <= day and (c.valid_to is None or c.valid_to >= day)
    )
    attestations = tuple(
        AttestationFacts(
            a.id, a.requirement, a.version, a.expires_on, a.document_sha256, a.audit_seq
        )
        for a in session.scalars(
            select(Attestation)
            .where(Attestation.processor_id == processor.id, Attestation.submitted_at <= at)
            .order_by(Attestation.id)
        )
    )
    inspections = tuple(
        InspectionFacts(
            i.id,
            i.held_on,
            sum(
                1
                for f in i.findings
                if not f.get("closed") and f.get("deadline") and f["deadline"] < day.isoformat()
            ),
            i.audit_seq,
        )
        for i in session.scalars(
            select(Inspection)
            .where(Inspection.processor_id == processor.id, Inspection.recorded_at <= at)
            .order_by(Inspection.held_on)
        )
    )
    return ProcessorFacts(
        processor_id=processor.id,
        name=processor.name,
        security_officer=processor.security_officer,
        security_contact_247=processor.security_contact_247,
        at=at,
        keys=keys,
        contracts=contracts,
        attestations=attestations,
        inspections=inspections,
    )
