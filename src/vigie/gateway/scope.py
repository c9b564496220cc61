"""The gateway's scope query: a processor's people in force today, with their rows.

One SQL statement per request joins the processor's current assignments (under its
contracts in force) to the people's current rows, selecting only the columns some
contract may read. A person assigned under several contracts comes back once, with the
ids of all those contracts; the gateway shows them through the union of their views.

Rows are plain tuples, never ORM objects: this is the hot path of every API request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from vigie.processors.models import Assignment
from vigie.registry.models import SUBJECT_FIELDS, Subject

_SUBJECTS = Subject.__table__.c
_ASSIGNMENTS = Assignment.__table__.c


@dataclass(frozen=True)
class ScopedPerson:
    """One person in scope: internal id, the contracts covering them, their readable row."""

    subject_id: int
    contract_ids: tuple[int, ...]
    row: Mapping[str, Any]


def _columns(fields: Iterable[str]) -> list[Any]:
    wanted = set(fields)
    return [_SUBJECTS[name] for name in SUBJECT_FIELDS if name in wanted]


def _in_force(processor_id: int, contract_ids: Collection[int], on: date) -> list[Any]:
    return [
        _ASSIGNMENTS.processor_id == processor_id,
        _ASSIGNMENTS.contract_id.in_(sorted(contract_ids)),
        _ASSIGNMENTS.starts_on <= on,
        or_(_ASSIGNMENTS.ends_on.is_(None), _ASSIGNMENTS.ends_on >= on),
    ]


def _group(rows: Iterable[Any], names: list[str]) -> list[ScopedPerson]:
    people: list[ScopedPerson] = []
    by_id: dict[int, list[int]] = {}
    for row in rows:
        sid, cid = int(row[0]), int(row[1])
        if sid in by_id:
            by_id[sid].append(cid)
            continue
        contracts = [cid]
        by_id[sid] = contracts
        people.append(ScopedPerson(sid, (), dict(zip(names, row[2:], strict=True))))
    return [
        ScopedPerson(p.subject_id, tuple(sorted(set(by_id[p.subject_id]))), p.row) for p in people
    ]


def one_in_scope(
    session: Session,
    *,
    processor_id: int,
    contract_ids: Collection[int],
    subject_id: int,
    on: date,
    fields: Iterable[str],
) -> ScopedPerson | None:
    """The person ``subject_id`` if a current assignment puts them in scope, else None."""
    if not contract_ids:
        return None
    cols = _columns(fields)
    stmt = (
        select(_ASSIGNMENTS.subject_id, _ASSIGNMENTS.contract_id, *cols)
        .join_from(Assignment.__table__, Subject.__table__, _SUBJECTS.id == _ASSIGNMENTS.subject_id)
        .where(*_in_force(processor_id, contract_ids, on), _ASSIGNMENTS.subject_id == subject_id)
    )
    people = _group(session.execute(stmt), [c.name for c in cols])
    return people[0] if people else None


def page_in_scope(
    session: Session,
    *,
    processor_id: int,
    contract_ids: Collection[int],
    after: int | None,
    limit: int,
    on: date,
    fields: Iterable[str],
) -> tuple[list[ScopedPerson], bool]:
    """Up to ``limit`` people in scope after internal id ``after``, and whether more follow.

    People come in internal id order (an index walk). A person covered by several
    contracts takes several rows; when that makes the last person of the fetched rows
    incomplete, the page ends before them (it may be shorter than ``limit``).
    """
    if not contract_ids:
        return [], False
    cols = _columns(fields)
    fetch = (limit + 1) * max(1, len(contract_ids))
    conditions = _in_force(processor_id, contract_ids, on)
    if after is not None:
        conditions.append(_ASSIGNMENTS.subject_id > after)
    stmt = (
        select(_ASSIGNMENTS.subject_id, _ASSIGNMENTS.contract_id, *cols)
        .join_from(Assignment.__table__, Subject.__table__, _SUBJECTS.id == _ASSIGNMENTS.subject_id)
        .where(*conditions)
        .order_by(_ASSIGNMENTS.subject_id, _ASSIGNMENTS.contract_id)
        .limit(fetch)
    )
    rows = session.execute(stmt).all()
    people = _group(rows, [c.name for c in cols])
    more = len(rows) == fetch
    if more and len(people) > 1:
        people.pop()  # the last person may have more rows beyond the fetch
    return people[:limit], more or len(people) > limit


def was_assigned(session: Session, *, processor_id: int, subject_id: int) -> bool:
    """Whether ``subject_id`` was ever assigned to ``processor_id`` (for detectors only)."""
    stmt = select(
        exists().where(
            _ASSIGNMENTS.processor_id == processor_id, _ASSIGNMENTS.subject_id == subject_id
        )
    )
    return bool(session.execute(stmt).scalar())
