"""A processor's scope: the people it may see today, and nothing else.

A person is in the scope of a processor on a day when an assignment links them to one
of its contracts, the assignment covers the day (``starts_on`` ≤ day ≤ ``ends_on``, an
open end running on) and the contract is valid that day (``valid_from`` ≤ day ≤
``valid_to``). Both ends are inclusive.

:func:`scope_page` lists the scope in the stable order of the internal id, for cursor
pagination; it walks the covering index ``ix_assignments_scope`` (processor, subject,
contract, dates), so a page costs the same at the 1st and at the 2-millionth person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, func, select
from sqlalchemy.orm import Session

from vigie.processors.models import Assignment, Contract
from vigie.registry.models import Subject

SUBJECTS = Subject.__table__


@dataclass(frozen=True)
class ScopedSubject:
    """A person in scope: their current row and the contracts that cover them today."""

    subject_id: int
    row: RowMapping | Mapping[str, Any]
    contract_ids: tuple[int, ...]


def _assignment_covers(on: date) -> ColumnElement[bool]:
    return (Assignment.starts_on <= on) & (
        Assignment.ends_on.is_(None) | (Assignment.ends_on >= on)
    )


def current_contract_ids(session: Session, *, processor_id: int, on: date) -> list[int]:
    """Ids of the processor's contracts valid on ``on``."""
    return list(
        session.scalars(
            select(Contract.id)
            .where(
                Contract.processor_id == processor_id,
                Contract.valid_from <= on,
                Contract.valid_to.is_(None) | (Contract.valid_to >= on),
            )
            .order_by(Contract.id)
        )
    )


def covering_contract_ids(
    session: Session, *, processor_id: int, subject_id: int, on: date
) -> tuple[int, ...]:
    """The processor's contracts under which ``subject_id`` is in scope on ``on`` (may be empty)."""
    ids = current_contract_ids(session, processor_id=processor_id, on=on)
    if not ids:
        return ()
    found = session.scalars(
        select(Assignment.contract_id)
        .where(
            Assignment.processor_id == processor_id,
            Assignment.subject_id == subject_id,
            Assignment.contract_id.in_(ids),
            _assignment_covers(on),
        )
        .distinct()
    )
    return tuple(sorted(found))


def in_scope(session: Session, *, processor_id: int, subject_id: int, on: date) -> bool:
    """Whether ``subject_id`` is in the processor's scope on ``on``."""
    return bool(
        covering_contract_ids(session, processor_id=processor_id, subject_id=subject_id, on=on)
    )


def scoped_subject(
    session: Session, *, processor_id: int, subject_id: int, on: date
) -> ScopedSubject | None:
    """The person and their covering contracts if in scope on ``on``, else ``None``.

    ``None`` for a person who does not exist and for one out of scope alike.
    """
    contract_ids = covering_contract_ids(
        session, processor_id=processor_id, subject_id=subject_id, on=on
    )
    if not contract_ids:
        return None
    row = session.execute(select(SUBJECTS).where(SUBJECTS.c.id == subject_id)).mappings().first()
    if row is None:
        return None
    return ScopedSubject(subject_id=subject_id, row=row, contract_ids=contract_ids)


def scope_page(
    session: Session, *, processor_id: int, after_subject_id: int, limit: int, on: date
) -> list[ScopedSubject]:
    """Up to ``limit`` people in scope with an id above ``after_subject_id``, by id.

    Pass the last ``subject_id`` of a page as ``after_subject_id`` to get the next one
    (start from 0). An empty list means the walk is over.
    """
    if limit < 1:
        return []
    contract_ids = current_contract_ids(session, processor_id=processor_id, on=on)
    if not contract_ids:
        return []
    in_window = (
        (Assignment.processor_id == processor_id)
        & Assignment.contract_id.in_(contract_ids)
        & _assignment_covers(on)
    )
    ids = list(
        session.scalars(
            select(Assignment.subject_id)
            .where(in_window, Assignment.subject_id > after_subject_id)
            .group_by(Assignment.subject_id)
            .order_by(Assignment.subject_id)
            .limit(limit)
        )
    )
    if not ids:
        return []
    covering: dict[int, list[int]] = {}
    for sid, cid in session.execute(
        select(Assignment.subject_id, Assignment.contract_id).where(
            in_window, Assignment.subject_id.between(ids[0], ids[-1])
        )
    ):
        covering.setdefault(sid, []).append(cid)
    rows = session.execute(select(SUBJECTS).where(SUBJECTS.c.id.in_(ids))).mappings()
    by_id = {row["id"]: row for row in rows}
    return [
        ScopedSubject(
            subject_id=sid, row=by_id[sid], contract_ids=tuple(sorted(set(covering[sid])))
        )
        for sid in ids
        if sid in by_id
    ]


def scope_size(session: Session, *, processor_id: int, on: date) -> int:
    """How many distinct people are in the processor's scope on ``on``."""
    contract_ids = current_contract_ids(session, processor_id=processor_id, on=on)
    if not contract_ids:
        return 0
    return int(
        session.scalar(
            select(func.count(func.distinct(Assignment.subject_id))).where(
                Assignment.processor_id == processor_id,
                Assignment.contract_id.in_(contract_ids),
                _assignment_covers(on),
            )
        )
        or 0
    )
