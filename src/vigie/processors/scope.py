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

from sqlalchemy import RowMapping, bindparam, func, select
from sqlalchemy.orm import Session

from vigie.processors.models import Assignment, Contract
from vigie.registry.models import Subject

SUBJECTS = Subject.__table__
_A = Assignment.__table__.c
_C = Contract.__table__.c

# Statements are built once with bind parameters: on the request path, building and
# compiling SQL expressions would cost more than running them.
_CONTRACTS_IN_FORCE = (
    select(_C.id)
    .where(
        _C.processor_id == bindparam("p"),
        _C.valid_from <= bindparam("on"),
        _C.valid_to.is_(None) | (_C.valid_to >= bindparam("on")),
    )
    .order_by(_C.id)
)
_IN_FORCE = (
    (_A.processor_id == bindparam("p"))
    & _A.contract_id.in_(bindparam("cids", expanding=True))
    & (_A.starts_on <= bindparam("on"))
    & (_A.ends_on.is_(None) | (_A.ends_on >= bindparam("on")))
)
_COVERING = select(_A.contract_id).where(_IN_FORCE, _A.subject_id == bindparam("s")).distinct()
_ROW = select(SUBJECTS).where(SUBJECTS.c.id == bindparam("s"))
_PAGE_IDS = (
    select(_A.subject_id)
    .where(_IN_FORCE, _A.subject_id > bindparam("after"))
    .group_by(_A.subject_id)
    .order_by(_A.subject_id)
    .limit(bindparam("limit"))
    .subquery("page")
)
_PAGE = (
    select(_A.contract_id, SUBJECTS)
    .select_from(_PAGE_IDS)
    .join(Assignment.__table__, (_A.subject_id == _PAGE_IDS.c.subject_id) & _IN_FORCE)
    .join(SUBJECTS, SUBJECTS.c.id == _PAGE_IDS.c.subject_id)
    .order_by(_PAGE_IDS.c.subject_id)
)
_SIZE = select(func.count(func.distinct(_A.subject_id))).where(_IN_FORCE)


@dataclass(frozen=True)
class ScopedSubject:
    """A person in scope: their current row and the contracts that cover them today."""

    subject_id: int
    row: RowMapping | Mapping[str, Any]
    contract_ids: tuple[int, ...]


def current_contract_ids(session: Session, *, processor_id: int, on: date) -> list[int]:
    """Ids of the processor's contracts valid on ``on``."""
    return list(session.scalars(_CONTRACTS_IN_FORCE, {"p": processor_id, "on": on}))


def covering_contract_ids(
    session: Session, *, processor_id: int, subject_id: int, on: date
) -> tuple[int, ...]:
    """The processor's contracts under which ``subject_id`` is in scope on ``on`` (may be empty)."""
    ids = current_contract_ids(session, processor_id=processor_id, on=on)
    if not ids:
        return ()
    params = {"p": processor_id, "cids": ids, "on": on, "s": subject_id}
    return tuple(sorted(session.scalars(_COVERING, params)))


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
    row = session.execute(_ROW, {"s": subject_id}).mappings().first()
    if row is None:
        return None
    return ScopedSubject(subject_id=subject_id, row=row, contract_ids=contract_ids)


def scope_page(
    session: Session, *, processor_id: int, after_subject_id: int, limit: int, on: date
) -> list[ScopedSubject]:
    """Up to ``limit`` people in scope with an id above ``after_subject_id``, by id.

    Pass the last ``subject_id`` of a page as ``after_subject_id`` to get the next one
    (start from 0). An empty list means the walk is over. Two statements: the contracts
    in force, then one query that takes the page's ids from the covering index and joins
    their assignments and rows.
    """
    if limit < 1:
        return []
    contract_ids = current_contract_ids(session, processor_id=processor_id, on=on)
    if not contract_ids:
        return []
    params = {
        "p": processor_id,
        "cids": contract_ids,
        "on": on,
        "after": after_subject_id,
        "limit": limit,
    }
    result = session.execute(_PAGE, params)
    names = list(result.keys())[1:]  # the subject's columns, after contract_id
    at_id = names.index("id")
    people: list[ScopedSubject] = []
    covering: dict[int, list[int]] = {}
    for contract_id, *values in result.all():
        subject_id = values[at_id]
        if subject_id not in covering:
            covering[subject_id] = []
            people.append(ScopedSubject(subject_id, dict(zip(names, values, strict=True)), ()))
        covering[subject_id].append(contract_id)
    return [
        ScopedSubject(p.subject_id, p.row, tuple(sorted(set(covering[p.subject_id]))))
        for p in people
    ]


def scope_size(session: Session, *, processor_id: int, on: date) -> int:
    """How many distinct people are in the processor's scope on ``on``."""
    contract_ids = current_contract_ids(session, processor_id=processor_id, on=on)
    if not contract_ids:
        return 0
    params = {"p": processor_id, "cids": contract_ids, "on": on}
    return int(session.scalar(_SIZE, params) or 0)
