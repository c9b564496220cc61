"""Budgets: distinct people per day and per 30 days, and requests per minute, per processor.

Both are settled by :func:`settle`, the **last** step of a request before its audit event
and commit, and write their counts in the same transaction as the disclosure's audit
event: if the transaction rolls back, nothing was disclosed and nothing was counted.

Locking: the only lock a request takes is its own processor's ``gateway_rates`` row, never
shared between processors. :func:`settle` takes it with one atomic counter update
(``INSERT … ON CONFLICT DO UPDATE … RETURNING``, the rate count), then charges the ledger;
on PostgreSQL the ledger's read-check-write is **one statement** (:data:`_CHARGE_PG`: the
people's last days, the usage, the admitted prefix and both upserts), sent with the count
in one round trip and started once the row lock is held, so that it reads every earlier
charge of the processor, committed before that lock was released. The lock is then held
for that round trip, the audit event (built in Python from the charge's outcome) and one
more round trip (the event's insert sent with the commit, :mod:`vigie.store.pipeline`):
no request waits for another processor's, and no Python runs
between the lock and the charge (the caller has resolved and projected everything
before). Hence a budget is never exceeded by even one person, whatever the number of
hosts, workers and clients, and one processor's requests commit one at a time: its
ceiling is one over the time its row is held (about 7 ms on the test machine, most of it
the commit's WAL flush; see ``docs/benchmarks.md`` and ``docs/operations.md``). On SQLite
transactions are exclusive from ``BEGIN IMMEDIATE``; the same rule runs in Python there.

Before any work a request also checks the rate *without* a lock (:func:`early_rate`,
from the count the caller's key statement already read): a processor past its limit is
refused before its look-up, and the exact check is the locked one.

The counting model is in :mod:`vigie.gateway.models`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date
from sqlalchemy.orm import Session

from vigie.gateway.observe import Admission
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


# PostgreSQL: the whole charge in one statement (see the module docstring). Parameters:
# the processor, the people asked for (distinct, in order), today, the window's first
# day, the daily and the 30-day budget. A person costs one today unless already
# disclosed today, and one for the 30 days unless disclosed within them; the first
# costly person past a budget ends the admitted prefix (as :func:`charge` decides in
# Python on SQLite).
_CHARGE_PG = raw.Statement(
    "WITH p AS (SELECT CAST(? AS integer) AS pid, CAST(? AS integer[]) AS ids, "
    "CAST(? AS date) AS today, CAST(? AS date) AS since, "
    "CAST(? AS integer) AS per_day, CAST(? AS integer) AS per_30), "
    "usage AS (SELECT COALESCE(SUM(d.people) FILTER (WHERE d.day = p.today), 0) AS today, "
    "COALESCE(SUM(d.people), 0) AS month FROM p LEFT JOIN gateway_days d "
    "ON d.processor_id = p.pid AND d.day >= p.since AND d.day <= p.today), "
    "costs AS (SELECT w.sid, w.ord, l.last_day, "
    "CASE WHEN l.last_day >= p.today THEN 0 ELSE 1 END AS day_cost, "
    "CASE WHEN l.last_day >= p.since THEN 0 ELSE 1 END AS month_cost "
    "FROM p CROSS JOIN unnest(p.ids) WITH ORDINALITY AS w(sid, ord) "
    "LEFT JOIN gateway_ledger l ON l.processor_id = p.pid AND l.subject_id = w.sid), "
    "running AS (SELECT c.*, SUM(c.day_cost) OVER (ORDER BY c.ord) AS cum_day, "
    "SUM(c.day_cost * c.month_cost) OVER (ORDER BY c.ord) AS cum_month FROM costs c), "
    "refused AS (SELECT MIN(r.ord) AS ord FROM running r, usage u, p "
    "WHERE r.day_cost = 1 AND (u.today + r.cum_day > p.per_day "
    "OR (r.month_cost = 1 AND u.month + r.cum_month > p.per_30))), "
    "admitted AS (SELECT r.* FROM running r, refused f "
    "WHERE f.ord IS NULL OR r.ord < f.ord), "
    "ledger AS (INSERT INTO gateway_ledger (processor_id, subject_id, last_day) "
    "SELECT p.pid, a.sid, p.today FROM admitted a, p WHERE a.day_cost = 1 "
    "ON CONFLICT (processor_id, subject_id) DO UPDATE SET last_day = excluded.last_day "
    "RETURNING 1), "
    "days AS (INSERT INTO gateway_days (processor_id, day, people) "
    "SELECT p.pid, m.day, SUM(m.n) FROM p, ("
    "SELECT p.today AS day, 1 AS n FROM admitted a, p WHERE a.day_cost = 1 UNION ALL "
    "SELECT a.last_day, -1 FROM admitted a WHERE a.day_cost = 1 AND a.month_cost = 0"
    ") m GROUP BY p.pid, m.day "
    "ON CONFLICT (processor_id, day) DO UPDATE SET people = gateway_days.people + excluded.people "
    "RETURNING 1) "
    "SELECT (SELECT COUNT(*) FROM admitted), "
    "(SELECT COALESCE(SUM(day_cost), 0) FROM admitted), "
    "u.today + (SELECT COALESCE(SUM(day_cost), 0) FROM admitted), "
    "u.month + (SELECT COALESCE(SUM(day_cost * month_cost), 0) FROM admitted), "
    "(SELECT COUNT(*) FROM ledger) + (SELECT COUNT(*) FROM days) FROM usage u",
    params=(None, None, Date(), Date()),
)


def count_request(
    session: Session,
    *,
    processor_id: int,
    now: datetime,
    budget: Budget | None = None,
) -> int:
    """Count one request of ``processor_id``; raise ``BudgetExceeded`` past the rate limit.

    One atomic counter update; it locks the processor's rate row until the transaction
    ends, so call it last (:func:`settle`; a denied request's record is a transaction of
    its own).
    Without a ``budget`` the request is only counted (used to record denied requests).
    Returns the number of requests in the current minute, this one included.
    """
    return _count(raw.cursor(session), processor_id, now, budget)


def _count(cursor: raw.Cursor, processor_id: int, now: datetime, budget: Budget | None) -> int:
    window = now.replace(second=0, microsecond=0)
    # Through ``together``: a denial's record opens its transaction with this count, and
    # on PostgreSQL its BEGIN then goes in the same round trip.
    (rows,) = cursor.together([(_COUNT_REQUEST, (processor_id, window))])
    requests = int(rows[0][0])
    if budget is not None:
        check_rate(budget=budget, requests_this_minute=requests - 1, now=now)
    return requests


def early_rate(*, budget: Budget, requests: int | None, now: datetime) -> None:
    """Refuse a request past the rate limit from the committed count, without a lock.

    ``requests`` is the processor's count in the current minute as read with its key
    (None if none yet). Approximate by design (requests in flight are not counted yet):
    the exact check is :func:`settle`'s.
    """
    if requests is not None:
        check_rate(budget=budget, requests_this_minute=requests, now=now)


def settle(
    session: Session,
    *,
    processor_id: int,
    subject_ids: Sequence[int],
    now: datetime,
    budget: Budget,
    admissions: Sequence[Admission] = (),
) -> Charge:
    """Count the request and charge its people: the last step before the audit event.

    Takes the processor's lock (its rate row) and charges the ledger right after, in one
    statement on PostgreSQL, both sent in one round trip (no Python, no network wait
    between them); raises ``BudgetExceeded`` past the rate limit or if not even
    the first person fits (see :func:`charge`). A write-back passes no people.
    ``admissions`` (the observers' throttle checks) go first, in the same round trip on
    PostgreSQL; a refusal raises before the charge is looked at, and the transaction's
    rollback undoes the count and the charge.
    """
    cursor = raw.cursor(session)
    if cursor.dialect.name != "postgresql":
        for admission in admissions:
            admission.verdict(cursor.all(*admission.call))
        _count(cursor, processor_id, now, budget)
        return _charge(cursor, processor_id, subject_ids, now, budget)
    # Both in one round trip: the charge starts once the count holds the processor's row.
    on = now.date()
    wanted = list(dict.fromkeys(subject_ids))
    window = now.replace(second=0, microsecond=0)
    since = on - timedelta(days=WINDOW_DAYS - 1)
    params = (processor_id, wanted, on, since, budget.per_day, budget.per_30_days)
    *admitted, counted, charged = cursor.together(
        [
            *(a.call for a in admissions),
            (_COUNT_REQUEST, (processor_id, window)),
            (_CHARGE_PG, params),
        ]
    )
    for admission, rows in zip(admissions, admitted, strict=True):
        admission.verdict(rows)
    check_rate(budget=budget, requests_this_minute=int(counted[0][0]) - 1, now=now)
    return _charged(charged[0], wanted, budget, now)


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
    the 30-day budget is). Call :func:`count_request` first in the same transaction
    (:func:`settle` does both).
    """
    return _charge(raw.cursor(session), processor_id, subject_ids, now, budget)


def _charge(
    cursor: raw.Cursor,
    processor_id: int,
    subject_ids: Sequence[int],
    now: datetime,
    budget: Budget,
) -> Charge:
    on = now.date()
    since = on - timedelta(days=WINDOW_DAYS - 1)
    wanted = list(dict.fromkeys(subject_ids))
    if cursor.dialect.name == "postgresql":
        return _charge_in_one(cursor, processor_id, wanted, on, since, budget, now)
    last_days: dict[int, date] = {}
    used_today = used_30 = 0
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


def _charge_in_one(
    cursor: raw.Cursor,
    processor_id: int,
    wanted: list[int],
    on: date,
    since: date,
    budget: Budget,
    now: datetime,
) -> Charge:
    """:func:`charge` on PostgreSQL: one statement reads, decides and writes."""
    params = (processor_id, wanted, on, since, budget.per_day, budget.per_30_days)
    row = cursor.one(_CHARGE_PG, params)
    assert row is not None
    return _charged(row, wanted, budget, now)


def _charged(row: tuple[Any, ...], wanted: list[int], budget: Budget, now: datetime) -> Charge:
    """The :class:`Charge` that :data:`_CHARGE_PG`'s row describes; raise if none fits."""
    admitted, fresh, used_today, used_30 = (int(v) for v in row[:4])
    if wanted and not admitted:
        check_budget(
            budget=budget, used_today=used_today, used_30_days=used_30, new_people=1, now=now
        )
        raise AssertionError("check_budget admitted a person charge() refused")
    return Charge(
        admitted=tuple(wanted[:admitted]),
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
