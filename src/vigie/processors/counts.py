"""Scope sizes kept in a table, so that reading them costs one indexed look-up.

Counting a scope means counting distinct people over a processor's assignments: about a
second for the IT platform's 2.1 million. ``vigie processors list`` and the detectors
read the size far more often than it changes, so it is stored (:class:`ScopeCount`) and
rewritten by :func:`recount` in the transaction of every change to the processor's
assignments or contracts (assignment import, ``apply``, ``synth``).

A scope also changes with the calendar, without any write: an assignment or a contract
starts or ends. A stored size therefore says for which days it holds: from the day it
was counted up to, not including, the next day one of the processor's assignments or
contracts starts or ends (``good_until``; open when none is due). :func:`scope_sizes`
answers from the table for a day in that range and counts again (and stores) outside
it, so a size is never stale; it only costs a count once per such day.

:func:`recount` locks the processor's row first (PostgreSQL), then counts: two imports
for the same processor at once cannot store a count that misses the other's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Date, Table, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigie.processors.models import Assignment, Contract, Processor, ScopeCount
from vigie.processors.scope import scope_size
from vigie.store.base import utcnow

COUNTS = cast(Table, ScopeCount.__table__)
_A = Assignment.__table__.c
_C = Contract.__table__.c
_ON: Any = bindparam("on", type_=Date())

_NEXT_ASSIGNMENT_CHANGE = select(
    func.min(case((_A.starts_on > _ON, _A.starts_on))),
    func.min(case((_A.ends_on >= _ON, _A.ends_on))),
).where(_A.processor_id == bindparam("p"))
_NEXT_CONTRACT_CHANGE = select(
    func.min(case((_C.valid_from > _ON, _C.valid_from))),
    func.min(case((_C.valid_to >= _ON, _C.valid_to))),
).where(_C.processor_id == bindparam("p"))
_LOCK = select(COUNTS.c.processor_id).where(COUNTS.c.processor_id == bindparam("p"))
_STORE = (
    update(COUNTS)
    .where(COUNTS.c.processor_id == bindparam("p"))
    .values(
        size=bindparam("size"),
        counted_on=bindparam("counted_on"),
        good_until=bindparam("good_until"),
        counted_at=bindparam("counted_at"),
    )
)


def next_change(session: Session, *, processor_id: int, on: date) -> date | None:
    """The first day after ``on`` whose scope may differ from ``on``'s (None: none due).

    A person enters on an assignment's ``starts_on`` and leaves the day after its
    ``ends_on``; the same for a contract's ``valid_from`` and ``valid_to``.
    """
    params = {"p": processor_id, "on": on}
    starts, ends = session.execute(_NEXT_ASSIGNMENT_CHANGE, params).one()
    opens, closes = session.execute(_NEXT_CONTRACT_CHANGE, params).one()
    days = [d for d in (starts, opens) if d is not None]
    days += [d + timedelta(days=1) for d in (ends, closes) if d is not None]
    return min(days, default=None)


def _lock(session: Session, processor_id: int, on: date) -> None:
    dialect = session.get_bind().dialect.name
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(COUNTS)
    session.execute(
        insert.values(
            processor_id=processor_id, size=0, counted_on=on, good_until=on, counted_at=utcnow()
        ).on_conflict_do_nothing()
    )
    session.execute(_LOCK.with_for_update(), {"p": processor_id})


def recount(session: Session, *, processor_id: int, on: date | None = None) -> int:
    """Count the processor's scope on ``on`` (default: today, UTC) and store it."""
    day = on or utcnow().date()
    _lock(session, processor_id, day)
    size = scope_size(session, processor_id=processor_id, on=day)
    session.execute(
        _STORE,
        {
            "p": processor_id,
            "size": size,
            "counted_on": day,
            "good_until": next_change(session, processor_id=processor_id, on=day),
            "counted_at": utcnow(),
        },
    )
    return size


def recount_all(session: Session, *, on: date | None = None) -> dict[int, int]:
    """:func:`recount` every processor (after a bulk load)."""
    ids = list(session.scalars(select(Processor.id).order_by(Processor.id)))
    return {pid: recount(session, processor_id=pid, on=on) for pid in ids}


def scope_sizes(
    session: Session, *, on: date, processor_ids: Iterable[int] | None = None
) -> dict[int, int]:
    """The scope size on ``on`` of each processor (default: every one), by processor id.

    Read from the stored counts; a processor without one that holds on ``on`` is
    counted again, and the count stored (the caller's transaction commits it).
    """
    if processor_ids is None:
        wanted = list(session.scalars(select(Processor.id)))
    else:
        wanted = list(processor_ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(COUNTS.c.processor_id, COUNTS.c.size, COUNTS.c.counted_on, COUNTS.c.good_until)
        .where(COUNTS.c.processor_id.in_(wanted))
    )  # fmt: skip
    sizes = {
        pid: size
        for pid, size, counted_on, good_until in rows
        if counted_on <= on and (good_until is None or on < good_until)
    }
    for pid in wanted:
        if pid not in sizes:
            sizes[pid] = recount(session, processor_id=pid, on=on)
    return sizes
