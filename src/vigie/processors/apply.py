"""``apply``: make the database match a processors file, and say what changed.

Declarative and idempotent: applying the same file twice changes nothing the second
time. For each processor in the file, its details and contracts are made equal to the
file: missing contracts are created, differing ones updated, and contracts the file no
longer lists are **deleted with their assignments** — the people they covered leave the
processor's scope at once (fail closed); the audit event records how many. A contract is
known by its name within its processor, so renaming one deletes it and creates another.

Processors absent from the file are left alone and reported as *unmanaged*: a file may
manage some processors only, and removing a processor (with its keys and history) is
not something a missing line should do.

Every change is one audit event (``processor:create``/``update``, ``contract:create``/
``update``/``delete``) in the caller's transaction; the caller commits. A
``contract:delete`` seals the buckets of assignments it emptied (:mod:`vigie.audit.seals`),
after checking them against their last seal. With
``dry_run`` nothing is written and nothing audited; the result is the same diff. The
stored scope size of every processor changed (:mod:`vigie.processors.counts`) is counted
again in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.seals import ASSIGNMENTS, Sealing
from vigie.errors import InvalidInput
from vigie.processors.counts import recount
from vigie.processors.models import Assignment, Contract, Processor
from vigie.processors.spec import ContractSpec, ProcessorsFile, ProcessorSpec, load_spec

PROCESSOR_ATTRS = (
    "legal_name",
    "siren",
    "contact_email",
    "security_officer",
    "security_contact_247",
    "region",
    "statement_key",
)
CONTRACT_ATTRS = (
    "purpose",
    "legal_basis",
    "reference",
    "valid_from",
    "valid_to",
    "read_fields",
    "masks",
    "write_fields",
    "budget_per_day",
    "budget_per_30_days",
    "expected_per_day",
    "rate_per_minute",
)


@dataclass(frozen=True)
class Change:
    """One difference between the file and the database."""

    op: str  # "create", "update" or "delete"
    kind: str  # "processor" or "contract"
    processor: str
    contract: str | None = None
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # attr -> (old, new)
    assignments_removed: int = 0

    @property
    def target(self) -> str:
        """``processor`` or ``processor/contract``."""
        return f"{self.processor}/{self.contract}" if self.contract else self.processor


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply`` did (or, with ``dry_run``, would do)."""

    changes: list[Change]
    unmanaged: list[str]  # processors in the database but not in the file
    dry_run: bool

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _contract_values(spec: ContractSpec) -> dict[str, Any]:
    return {
        "purpose": spec.purpose,
        "legal_basis": spec.legal_basis,
        "reference": spec.reference,
        "valid_from": spec.valid_from,
        "valid_to": spec.valid_to,
        "read_fields": spec.canonical_read_fields,
        "masks": spec.canonical_masks,
        "write_fields": spec.canonical_write_fields,
        "budget_per_day": spec.budget.per_day,
        "budget_per_30_days": spec.budget.per_30_days,
        "expected_per_day": spec.expected_per_day,
        "rate_per_minute": spec.rate_per_minute,
    }


def _processor_values(spec: ProcessorSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in PROCESSOR_ATTRS}


def _diff(obj: Any, values: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        name: (getattr(obj, name), value)
        for name, value in values.items()
        if getattr(obj, name) != value
    }


def plan(session: Session, *, spec: ProcessorsFile) -> ApplyResult:
    """The changes that would make the database match ``spec`` (writes nothing)."""
    existing = {p.name: p for p in session.scalars(select(Processor))}
    contracts: dict[int, dict[str, Contract]] = {}
    for contract in session.scalars(select(Contract)):
        contracts.setdefault(contract.processor_id, {})[contract.name] = contract
    changes: list[Change] = []
    for pspec in spec.processors:
        proc = existing.get(pspec.name)
        values = _processor_values(pspec)
        if proc is None:
            changes.append(
                Change(
                    "create",
                    "processor",
                    pspec.name,
                    diff={k: (None, v) for k, v in values.items()},
                )
            )
            have: dict[str, Contract] = {}
        else:
            if diff := _diff(proc, values):
                changes.append(Change("update", "processor", pspec.name, diff=diff))
            have = contracts.get(proc.id, {})
        wanted = {c.name for c in pspec.contracts}
        for cspec in pspec.contracts:
            cvalues = _contract_values(cspec)
            current = have.get(cspec.name)
            if current is None:
                changes.append(
                    Change(
                        "create",
                        "contract",
                        pspec.name,
                        cspec.name,
                        diff={k: (None, v) for k, v in cvalues.items()},
                    )
                )
            elif diff := _diff(current, cvalues):
                changes.append(Change("update", "contract", pspec.name, cspec.name, diff=diff))
        for name in sorted(set(have) - wanted):
            gone = have[name]
            count = session.scalar(
                select(func.count())
                .select_from(Assignment)
                .where(Assignment.contract_id == gone.id)
            )
            changes.append(
                Change("delete", "contract", pspec.name, name, assignments_removed=int(count or 0))
            )
    in_file = {p.name for p in spec.processors}
    unmanaged = sorted(set(existing) - in_file)
    return ApplyResult(changes=changes, unmanaged=unmanaged, dry_run=True)


def record_created(
    session: Session, processor: Processor, *, actor: str, changed: Iterable[str] = ()
) -> int:
    """Record ``processor:create`` for a new (flushed) processor, with its name; return the
    event's sequence number.

    Reports name a processor by the ``processors`` row of its id, so the name is evidence:
    ``vigie audit verify`` checks every row against the name its creation event recorded
    (:func:`vigie.audit.evidence.check_processors`).
    """
    return trail.append(
        session,
        action=Action.PROCESSOR_CREATE,
        actor=actor,
        processor_id=processor.id,
        detail={"changed": sorted(changed), "name": processor.name},
    )


def _write(session: Session, *, spec: ProcessorsFile, changes: list[Change], actor: str) -> None:
    specs = {p.name: p for p in spec.processors}
    processors = {p.name: p for p in session.scalars(select(Processor))}
    for change in changes:
        pspec = specs[change.processor]
        if change.kind == "processor":
            proc = processors.get(change.processor)
            if proc is None:
                proc = Processor(name=pspec.name, **_processor_values(pspec))
                session.add(proc)
                processors[proc.name] = proc
            else:
                for name, (_, new) in change.diff.items():
                    setattr(proc, name, new)
            session.flush()
            if change.op == "create":
                record_created(session, proc, actor=actor, changed=change.diff)
            else:
                trail.append(
                    session,
                    action=Action.PROCESSOR_UPDATE,
                    actor=actor,
                    processor_id=proc.id,
                    detail={"changed": sorted(change.diff)},
                )
            continue
        proc = processors[change.processor]
        contract = session.scalar(
            select(Contract).where(
                Contract.processor_id == proc.id, Contract.name == change.contract
            )
        )
        if change.op == "delete":
            assert contract is not None
            contract_id = contract.id
            sealing = Sealing(session)
            covered = session.scalars(
                select(Assignment.subject_id).where(Assignment.contract_id == contract_id)
            )
            sealing.check(ASSIGNMENTS, ASSIGNMENTS.keys(covered))  # before deleting
            gone = session.execute(delete(Assignment).where(Assignment.contract_id == contract_id))
            removed = int(cast("CursorResult[Any]", gone).rowcount)
            session.delete(contract)
            session.flush()
            sealing.append(
                action=Action.CONTRACT_DELETE,
                actor=actor,
                processor_id=proc.id,
                detail={"contract_id": contract_id, "assignments_removed": removed},
            )
            continue
        cspec = next(c for c in pspec.contracts if c.name == change.contract)
        if contract is None:
            contract = Contract(
                processor_id=proc.id, name=cspec.name, extra={}, **_contract_values(cspec)
            )
            session.add(contract)
        else:
            for name, (_, new) in change.diff.items():
                setattr(contract, name, new)
        session.flush()
        trail.append(
            session,
            action=Action.CONTRACT_CREATE if change.op == "create" else Action.CONTRACT_UPDATE,
            actor=actor,
            processor_id=proc.id,
            detail={"contract_id": contract.id, "changed": sorted(change.diff)},
        )
    # A contract's dates, or its removal, change the scope: the stored sizes follow here.
    for name in sorted({change.processor for change in changes}):
        recount(session, processor_id=processors[name].id)


def apply_spec(
    session: Session, *, spec: ProcessorsFile, actor: str, dry_run: bool = False
) -> ApplyResult:
    """Make the database match ``spec``; every change audited (see the module docstring)."""
    result = plan(session, spec=spec)
    if dry_run or not result.changes:
        return ApplyResult(changes=result.changes, unmanaged=result.unmanaged, dry_run=dry_run)
    try:
        _write(session, spec=spec, changes=result.changes, actor=actor)
    except IntegrityError:
        session.rollback()
        raise InvalidInput(
            "processors or contracts changed while applying (another apply at the same "
            "time?); nothing applied, apply the file again"
        ) from None
    return ApplyResult(changes=result.changes, unmanaged=result.unmanaged, dry_run=False)


def apply_file(session: Session, *, path: Path, actor: str, dry_run: bool = False) -> ApplyResult:
    """Validate the processors file at ``path`` and apply it (see :func:`apply_spec`)."""
    return apply_spec(session, spec=load_spec(path), actor=actor, dry_run=dry_run)
