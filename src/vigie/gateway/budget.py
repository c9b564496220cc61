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

from sqlalchemy import Date
from sqlalchemy.orm import Session

from vigie.policy.budget import check_budget, check_rate
from vigie.policy.view import Budget
from vigie.store import raw
from vigie.store.base import UTCDateTime

WINDOW_DAYS = 30


@dataclass(frozen=True)
class Charge:
    """What :func:`charge` admitted: a prefix of the people asked for, and what is left."""

    admitted: tuple[int, ...]
    newly_counted: int  # people that were not yet counted today
    remaining_today: int
    remaining_30_days: int

    def used(self, budget: Budget) -> float:
        """The share of ``budget`` used: the higher of the day's and the 30 days'."""
        day = _share(budget.per_day - self.remaining_today, budget.per_day)
        month = _share(budget.per_30_days - self.remaining_30_days, budget.per_30_days)
        return max(day, month)


def _share(used: int, of: int) -> float:
    return used / of if of > 0 else 1.0


# Statements on the driver's cursor (:mod:`vigie.store.raw`): this is the hot path of
# every request. The upsert syntax (``ON CONFLICT … DO UPDATE … RETURNING``) is the same on
# SQLite (≥ 3.35) and PostgreSQL.
_COUNT_REQUEST = raw.Statement(
    "INSERT INTO gateway_rates (processor_id, window_start, requests) VALUES (?, ?, 1) "
    "ON CONFLICT (processor_id) DO UPDATE SET "
    "requests = CASE WHEN gateway_rates.window_start = excluded.window_start "
    "THEN gateway_rates.requests + 1 ELSE 1 END, "
    "window_start = excluded.window_start "
    "RETURNING requests",
    params=(None, UTCDateTime()),
)
_USAGE_SQL = (
    "SELECT NULL, NULL, COALESCE(SUM(CASE WHEN day = ? THEN people ELSE 0 END), 0), "
    "COALESCE(SUM(people), 0) FROM gateway_days "
    "WHERE processor_id = ? AND day >= ? AND day <= ?"
)
_USAGE = raw.Statement(_USAGE_SQL, params=(Date(), None, Date(), Date()))
# The people's last days and the usage, in one round trip (usage is the row whose
# subject_id is NULL).
_LEDGER = raw.Statement(
    "SELECT subject_id, last_day, 0, 0 FROM gateway_ledger "
    "WHERE processor_id = ? AND subject_id IN ({list}) UNION ALL " + _USAGE_SQL,
    params=(None, Date(), None, Date(), Date()),
    columns=(None, Date()),
)
_SET_LAST_DAY = raw.Statement(
    "INSERT INTO gateway_ledger (processor_id, subject_id, last_day) VALUES (?, ?, ?) "
    "ON CONFLICT (processor_id, subject_id) DO UPDATE SET last_day = excluded.last_day",
    params=(None, None, Date()),
)
_ADD_TO_DAY = raw.Statement(
    "INSERT INTO gateway_days (processor_id, day, people) VALUES (?, ?, ?) "
    "ON CONFLICT (processor_id, day) DO UPDATE SET people = gateway_days.people + excluded.people",
    params=(None, Date(), None),
)


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
    row = raw.cursor(session).one(_COUNT_REQUEST, (processor_id, window))
    assert row is not None
    requests = int(row[0])
    if budget is not None:
        check_rate(budget=budget, requests_this_minute=requests - 1, now=now)
    return requests


def usage(session: Session, *, processor_id: int, on: date) -> tuple[int, int]:
    """Distinct people disclosed to ``processor_id``: ``(on that day, over 30 days)``."""
    since = on - timedelta(days=WINDOW_DAYS - 1)
    row = raw.cursor(session).one(_USAGE, (on, processor_id, since, on))
    assert row is not None
    return int(row[2]), int(row[3])


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
    used_today = used_30 = 0
    cursor = raw.cursor(session)
    ids = wanted or [-1]
    params = (processor_id, *ids, on, processor_id, since, on)
    for sid, day, today, window in cursor.all(_LEDGER.sized(len(ids)), params):
        if sid is None:
            used_today, used_30 = int(today), int(window)
        else:
            last_days[int(sid)] = day

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
            cursor,
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
    cursor: raw.Cursor,
    *,
    processor_id: int,
    on: date,
    admitted: list[int],
    last_days: dict[int, date],
    moved: Counter[date],
    fresh: int,
) -> None:
    cursor.many(
        _SET_LAST_DAY,
        [(processor_id, sid, on) for sid in admitted if last_days.get(sid) != on],
    )
    changes = [(processor_id, on, fresh)]
    changes += [(processor_id, d, -n) for d, n in moved.items()]
    cursor.many(_ADD_TO_DAY, changes)
