"""Finding processors and summarising them (status, contracts, scope size)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from vigie.errors import NotFound
from vigie.processors.counts import scope_sizes
from vigie.processors.models import ApiKey, Contract, Processor


def get_processor(session: Session, *, name: str) -> Processor:
    """The processor called ``name``; :class:`NotFound` if there is none."""
    processor = session.scalar(select(Processor).where(Processor.name == name))
    if processor is None:
        raise NotFound(f"no processor named {name!r}")
    return processor


_IN_FORCE = (
    select(Contract)
    .where(
        Contract.processor_id == bindparam("p"),
        Contract.valid_from <= bindparam("on"),
        Contract.valid_to.is_(None) | (Contract.valid_to >= bindparam("on")),
    )
    .order_by(Contract.name)
)


def current_contracts(session: Session, *, processor_id: int, on: date) -> list[Contract]:
    """The processor's contracts valid on ``on`` (``valid_from`` ≤ on ≤ ``valid_to``).

    The gateway calls this on every request; the statement is built once.
    """
    return list(session.scalars(_IN_FORCE, {"p": processor_id, "on": on}))


@dataclass(frozen=True)
class ProcessorSummary:
    """One line of ``vigie processors list``."""

    name: str
    legal_name: str
    siren: str
    region: str | None
    status: str  # "active" or "suspended"
    suspended_at: datetime | None
    suspended_reason: str | None
    contracts: list[str]  # every contract name
    current_contracts: list[str]
    scope_size: int  # distinct people with a current assignment under a current contract
    active_keys: int


def summarise(session: Session, *, on: date, now: datetime) -> list[ProcessorSummary]:
    """Every processor with its status, contracts, scope size and number of usable keys.

    Scope sizes are the stored ones (:func:`~vigie.processors.counts.scope_sizes`); one
    whose count does not hold on ``on`` is counted again and stored, so the caller's
    session should commit.
    """
    processors = list(session.scalars(select(Processor).order_by(Processor.name)))
    contracts: dict[int, list[Contract]] = {}
    for contract in session.scalars(select(Contract).order_by(Contract.name)):
        contracts.setdefault(contract.processor_id, []).append(contract)
    current_ids = [
        c.id
        for cs in contracts.values()
        for c in cs
        if c.valid_from <= on and (c.valid_to is None or c.valid_to >= on)
    ]
    # Stored sizes (vigie.processors.counts): no count over the assignments here.
    scope = scope_sizes(session, on=on, processor_ids=[p.id for p in processors])
    keys = dict(
        session.execute(
            select(ApiKey.processor_id, func.count())
            .where(
                ApiKey.revoked_at.is_(None),
                ApiKey.suspended_at.is_(None),
                (ApiKey.expires_at.is_(None)) | (ApiKey.expires_at > now),
            )
            .group_by(ApiKey.processor_id)
        ).all()
    )
    current = set(current_ids)
    return [
        ProcessorSummary(
            name=p.name,
            legal_name=p.legal_name,
            siren=p.siren,
            region=p.region,
            status="suspended" if p.suspended_at else "active",
            suspended_at=p.suspended_at,
            suspended_reason=p.suspended_reason,
            contracts=[c.name for c in contracts.get(p.id, [])],
            current_contracts=[c.name for c in contracts.get(p.id, []) if c.id in current],
            scope_size=scope.get(p.id, 0),
            active_keys=int(keys.get(p.id, 0)),
        )
        for p in processors
    ]
