"""Budgets: distinct people per day and per 30 days, and requests per minute, per processor.

Both checks run inside the request's unit of work, before anything is disclosed, and
write their counts in the same transaction as the disclosure's audit event: if the
transaction rolls back, nothing was disclosed and nothing was counted.

Concurrency: :func:`count_request` is the first write of every request. It upserts the
processor's ``gateway_rates`` row, which on PostgreSQL locks that row until commit, so the
ledger read-check-write of :func:`charge` for one processor never interleaves with another
worker's (SQLite transactions are exclusive from ``BEGIN IMMEDIATE``). Hence a budget is
never exceeded by even one person, whatever the number of workers and clients.

The counting model is in :mod:`vigie.gateway.models`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Table, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vigie.gateway.models import DayCount, LedgerEntry, RateWindow
from vigie.policy.budget import check_budget, check_rate
from vigie.policy.view import Budget

WINDOW_DAYS = 30
_DAYS: Table = DayCount.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Charge:
    """What :func:`charge` admitted: a prefix of the people asked for, and what is left."""

    admitted: tuple[int, ...]
    newly_counted: int  # people that were not yet counted today
    remaining_today: int
    remaining_30_days: int


def _insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def count_request(
    session: Session,
    *,
    processor_id: int,
    now: datetime,
    budget: Budget | None = None,
) -> int:
    """Count one request of ``processor_id``; raise ``BudgetExceeded`` past the rate limit.

    Locks the processor's rate row until the transaction ends (see the module docstring).
    Without a ``budget`` the request is only counted (used to record denied requests).
    Returns the number of requests in the current minute, this one included.
    """
    window = now.replace(second=0, microsecond=0)
    stmt: Insert = _insert(session, RateWindow).values(
        processor_id=processor_id, window_start=window, requests=1
    )
    excluded = stmt.excluded  # type: ignore[attr-defined]
    stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=[RateWindow.processor_id],
        set_={
            "requests": case(
                (RateWindow.window_start == excluded.window_start, RateWindow.requests + 1),
                else_=1,
            ),
            "window_start": excluded.window_start,
        },
    ).returning(RateWindow.requests)
    requests = int(session.execute(stmt).scalar_one())
    if budget is not None:
        check_rate(budget=budget, requests_this_minute=requests - 1, now=now)
    return requests


def usage(session: Session, *, processor_id: int, on: date) -> tuple[int, int]:
    """Distinct people disclosed to ``processor_id``: ``(on that day, over 30 days)``."""
    since = on - timedelta(days=WINDOW_DAYS - 1)
    row = session.execute(
        select(
            func.coalesce(func.sum(case((DayCount.day == on, DayCount.people), else_=0)), 0),
            func.coalesce(func.sum(DayCount.people), 0),
        ).where(DayCount.processor_id == processor_id, DayCount.day.between(since, on))
    ).one()
    return int(row[0]), int(row[1])


def charge(
    session: Session,
    *,
    processor_id: int,
    subject_ids: Sequence[int],
    now: datetime,
    budget: Budget,
) -> Charge:
    """Count the people of a response against the budgets, admitting the longest prefix.

    People already disclosed today are free; people disclosed earlier within 30 days cost
    one for today only. The people of ``subject_ids`` are admitted in order until the next
    one would exceed a budget; if not even the first fits, raise ``BudgetExceeded`` with a
    ``retry_after`` (seconds to midnight UTC when the daily budget is spent, one day when
    the 30-day budget is). Call :func:`count_request` first in the same transaction.
    """
    on = now.date()
    since = on - timedelta(days=WINDOW_DAYS - 1)
    wanted = list(dict.fromkeys(subject_ids))
    last_days: dict[int, date] = {}
    if wanted:
        rows = session.execute(
            select(LedgerEntry.subject_id, LedgerEntry.last_day).where(
                LedgerEntry.processor_id == processor_id, LedgerEntry.subject_id.in_(wanted)
            )
        )
        last_days = {int(sid): day for sid, day in rows}
    used_today, used_30 = usage(session, processor_id=processor_id, on=on)

    admitted: list[int] = []
    moved: Counter[date] = Counter()
    fresh = 0
    for sid in wanted:
        last = last_days.get(sid)
        if last is not None and last >= on:
            admitted.append(sid)
            continue
        in_window = last is not None and last >= since
        if used_today + 1 > budget.per_day or (not in_window and used_30 + 1 > budget.per_30_days):
            break
        used_today += 1
        if in_window:
            assert last is not None
            moved[last] += 1
        else:
            used_30 += 1
        fresh += 1
        admitted.append(sid)

    if wanted and not admitted:
        check_budget(
            budget=budget, used_today=used_today, used_30_days=used_30, new_people=1, now=now
        )
        raise AssertionError("check_budget admitted a person charge() refused")

    if fresh:
        _record(
            session,
            processor_id=processor_id,
            on=on,
            admitted=admitted,
            last_days=last_days,
            moved=moved,
            fresh=fresh,
        )
    return Charge(
        admitted=tuple(admitted),
        newly_counted=fresh,
        remaining_today=max(0, budget.per_day - used_today),
        remaining_30_days=max(0, budget.per_30_days - used_30),
    )


def _record(
    session: Session,
    *,
    processor_id: int,
    on: date,
    admitted: list[int],
    last_days: dict[int, date],
    moved: Counter[date],
    fresh: int,
) -> None:
    rows = [
        {"processor_id": processor_id, "subject_id": sid, "last_day": on}
        for sid in admitted
        if last_days.get(sid) != on
    ]
    ledger = _insert(session, LedgerEntry).values(rows)
    session.execute(
        ledger.on_conflict_do_update(
            index_elements=[LedgerEntry.processor_id, LedgerEntry.subject_id],
            set_={"last_day": ledger.excluded.last_day},
        )
    )
    day = _insert(session, DayCount).values(processor_id=processor_id, day=on, people=fresh)
    session.execute(
        day.on_conflict_do_update(
            index_elements=[DayCount.processor_id, DayCount.day],
            set_={"people": DayCount.people + fresh},
        )
    )
    if moved:
        days = _DAYS.c
        session.execute(
            update(_DAYS)
            .where(days.processor_id == processor_id, days.day == bindparam("old_day"))
            .values(people=days.people - bindparam("n")),
            [{"old_day": d, "n": n} for d, n in moved.items()],
        )
