"""The detectors' shared memory: recording each request, reading snapshots back.

Every write is an idempotent insert (``ON CONFLICT DO NOTHING``) or a relative update
(``value = value + n``, conditional ``last_at < window start``), so N workers recording
at once lose no count and count nobody twice; a race can only over-count, which errs on
the side of containment. Times are the request times the gateway recorded, never the
wall clock, so a simulation with a driven clock sees the same figures as real traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vigie.detection import record_sql
from vigie.detection.baseline import BASELINE_DAYS
from vigie.detection.findings import Counts, History
from vigie.detection.models import ActivityWindow, DetectorState, KeyActivity, Origin, Seen
from vigie.detection.origin import network_of
from vigie.gateway.observe import Access
from vigie.processors.models import Contract
from vigie.registry.models import Subject

ACTIVE_KEY_WINDOW = timedelta(hours=1)
_CHUNK = 500


def day_start(at: datetime) -> datetime:
    """Midnight UTC of ``at``'s day."""
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def hour_start(at: datetime) -> datetime:
    """The start of ``at``'s hour."""
    return at.replace(minute=0, second=0, microsecond=0)


def _insert(session: Session, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


@dataclass(frozen=True)
class Recorded:
    """What recording one request produced: the current windows and context."""

    hour: Counts
    day: Counts
    active_keys: int
    new_origin: str | None
    known_since: datetime | None


@dataclass(frozen=True)
class _PeopleCounts:
    hour: int = 0
    day: int = 0
    fresh: int = 0
    canaries: int = 0


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


_IDS: Any = bindparam("ids", expanding=True)
_SEEN_SELECT = select(Seen.subject_id, Seen.last_at).where(
    Seen.processor_id == bindparam("pid"), Seen.subject_id.in_(_IDS)
)
_SEEN_TOUCH = (
    update(Seen)
    .where(
        Seen.processor_id == bindparam("pid"),
        Seen.subject_id.in_(_IDS),
        Seen.last_at < bindparam("at", type_=Seen.__table__.c.last_at.type),
    )
    .values(last_at=bindparam("at"))
    .execution_options(synchronize_session=False)
)
_CANARY_COUNT = select(func.count()).where(Subject.id.in_(_IDS), Subject.is_canary.is_(True))


@lru_cache(maxsize=4)
def _seen_insert(dialect: str) -> Any:
    table = cast(Table, Seen.__table__)
    at = bindparam("at", type_=table.c.first_at.type)
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        processor_id=bindparam("pid"), subject_id=bindparam("sid"), first_at=at, last_at=at
    )
    return stmt.on_conflict_do_nothing().returning(table.c.subject_id)


def _record_people(
    session: Session, *, processor_id: int, subject_ids: Sequence[int], at: datetime
) -> _PeopleCounts:
    ids = sorted(set(subject_ids))
    if not ids:
        return _PeopleCounts()
    d0, h0 = day_start(at), hour_start(at)
    fresh = day_old = hour_old = 0
    new_today: list[int] = []
    insert_seen = _seen_insert(session.get_bind().dialect.name)
    for chunk in _chunks(ids):
        rows = session.execute(_SEEN_SELECT, {"pid": processor_id, "ids": list(chunk)})
        known: dict[int, datetime] = {sid: last for sid, last in rows}
        unknown = [s for s in chunk if s not in known]
        if unknown:
            inserted = session.scalars(
                insert_seen, [{"pid": processor_id, "sid": s, "at": at} for s in unknown]
            ).all()
            fresh += len(inserted)
            new_today.extend(inserted)
        back_today = [s for s, last in known.items() if last < d0]
        back_hour = [s for s, last in known.items() if d0 <= last < h0]
        day_old += len(back_today)
        hour_old += len(back_hour)
        new_today.extend(back_today)
        if back_today or back_hour:
            session.execute(
                _SEEN_TOUCH, {"pid": processor_id, "ids": back_today + back_hour, "at": at}
            )
    canaries = 0
    for chunk in _chunks(new_today):
        canaries += session.scalar(_CANARY_COUNT, {"ids": list(chunk)}) or 0
    return _PeopleCounts(
        hour=fresh + day_old + hour_old, day=fresh + day_old, fresh=fresh, canaries=canaries
    )


_WINDOW_COLUMNS = (
    "requests", "people", "fresh", "canaries", "listed", "not_found", "expired",
    "cursor_max", "first_seq", "last_seq",
)  # fmt: skip


@lru_cache(maxsize=4)
def _window_upsert(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO UPDATE … RETURNING`` for a window, built once per dialect."""
    table = cast(Table, ActivityWindow.__table__)
    names = ("processor_id", "span", "start", *_WINDOW_COLUMNS)
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in names}
    )
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["processor_id", "span", "start"],
        set_={
            **{
                n: table.c[n] + new[n]
                for n in (
                    "requests",
                    "people",
                    "fresh",
                    "canaries",
                    "listed",
                    "not_found",
                    "expired",
                )
            },
            "cursor_max": case(
                (table.c.cursor_max < new.cursor_max, new.cursor_max), else_=table.c.cursor_max
            ),
            "first_seq": func.coalesce(table.c.first_seq, new.first_seq),
            "last_seq": case(
                (
                    or_(table.c.last_seq.is_(None), table.c.last_seq < new.last_seq),
                    new.last_seq,
                ),
                else_=table.c.last_seq,
            ),
        },
    )
    return stmt.returning(*(table.c[n] for n in _WINDOW_COLUMNS))


def _bump_window(
    session: Session,
    *,
    processor_id: int,
    span: str,
    start: datetime,
    people: int,
    fresh: int,
    canaries: int,
    access: Access,
) -> Counts:
    stmt = _window_upsert(session.get_bind().dialect.name)
    params = {
        "processor_id": processor_id,
        "span": span,
        "start": start,
        "requests": 1,
        "people": people,
        "fresh": fresh,
        "canaries": canaries,
        "listed": people if access.kind == "list" else 0,
        "not_found": 1 if access.not_found else 0,
        "expired": 1 if access.expired_assignment else 0,
        "cursor_max": access.cursor_position or 0,
        "first_seq": access.audit_seq,
        "last_seq": access.audit_seq,
    }
    row = session.execute(stmt, params).one()
    return Counts(start, *row)


@lru_cache(maxsize=4)
def _key_upsert(dialect: str) -> Any:
    table = cast(Table, KeyActivity.__table__)
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        processor_id=bindparam("pid"),
        key_id=bindparam("kid"),
        first_at=bindparam("at", type_=table.c.first_at.type),
        last_at=bindparam("at", type_=table.c.last_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["processor_id", "key_id"],
        set_={"last_at": stmt.excluded.last_at},
        where=table.c.last_at < stmt.excluded.last_at,
    )


_KEYS_ACTIVE = select(
    func.count(
        case((KeyActivity.last_at >= bindparam("since", type_=KeyActivity.last_at.type), 1))
    ),
    func.min(KeyActivity.first_at),
).where(KeyActivity.processor_id == bindparam("pid"))


def _record_key(session: Session, *, access: Access) -> tuple[int, datetime | None]:
    pid, at = access.processor_id, access.at
    session.execute(
        _key_upsert(session.get_bind().dialect.name),
        {"pid": pid, "kid": access.key_id, "at": at},
    )
    known_since: datetime | None
    active, known_since = session.execute(
        _KEYS_ACTIVE, {"pid": pid, "since": at - ACTIVE_KEY_WINDOW}
    ).one()
    return int(active or 1), known_since


@lru_cache(maxsize=4)
def _origin_upsert(dialect: str) -> Any:
    table = cast(Table, Origin.__table__)
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
        processor_id=bindparam("pid"),
        network=bindparam("net"),
        first_at=bindparam("at", type_=table.c.first_at.type),
        last_at=bindparam("at", type_=table.c.last_at.type),
    )
    return stmt.on_conflict_do_update(
        index_elements=["processor_id", "network"],
        set_={"last_at": stmt.excluded.last_at},
        where=table.c.last_at < bindparam("day", type_=table.c.last_at.type),
    ).returning(table.c.first_at)


def _record_origin(session: Session, *, access: Access) -> str | None:
    network = network_of(access.origin)
    if network is None:
        return None
    first = session.execute(
        _origin_upsert(session.get_bind().dialect.name),
        {"pid": access.processor_id, "net": network, "at": access.at, "day": day_start(access.at)},
    ).scalar()
    return network if first is not None and first >= access.at else None


def record(session: Session, access: Access) -> Recorded:
    """Record one request in the shared counters; return the windows it falls in.

    On PostgreSQL in one statement (:mod:`vigie.detection.record_sql`), elsewhere one
    statement per table."""
    if session.get_bind().dialect.name == "postgresql":
        network = network_of(access.origin)
        one = record_sql.record(
            session,
            access,
            enforce=False,
            network=network,
            hour=hour_start(access.at),
            day=day_start(access.at),
            since=access.at - ACTIVE_KEY_WINDOW,
        )
        new = network if one.new_origin else None
        return Recorded(one.hour, one.day, one.active_keys, new, one.known_since)
    people = _record_people(
        session, processor_id=access.processor_id, subject_ids=access.subject_ids, at=access.at
    )
    hour = _bump_window(
        session,
        processor_id=access.processor_id,
        span="hour",
        start=hour_start(access.at),
        people=people.hour,
        fresh=people.fresh,
        canaries=people.canaries,
        access=access,
    )
    day = _bump_window(
        session,
        processor_id=access.processor_id,
        span="day",
        start=day_start(access.at),
        people=people.day,
        fresh=people.fresh,
        canaries=people.canaries,
        access=access,
    )
    active_keys, known_since = _record_key(session, access=access)
    new_origin = _record_origin(session, access=access)
    return Recorded(hour, day, active_keys, new_origin, known_since)


def history(session: Session, *, processor_id: int, at: datetime) -> History:
    """The processor's last ``BASELINE_DAYS`` days (today excluded) and declared volume."""
    today = day_start(at)
    since = today - timedelta(days=BASELINE_DAYS)
    rows = session.execute(
        select(
            ActivityWindow.span,
            ActivityWindow.start,
            ActivityWindow.requests,
            ActivityWindow.people,
            ActivityWindow.fresh,
            ActivityWindow.canaries,
        )
        .where(
            ActivityWindow.processor_id == processor_id,
            ActivityWindow.start >= since,
            ActivityWindow.start < today,
        )
        .order_by(ActivityWindow.start)
    ).all()
    hours = [0] * 24
    people: list[int] = []
    fresh: list[int] = []
    canaries: list[int] = []
    by_date: dict[date, int] = {}
    for span, start, requests, n_people, n_fresh, n_canaries in rows:
        if span == "hour":
            hours[start.hour] += requests
        elif requests:
            people.append(n_people)
            fresh.append(n_fresh)
            by_date[start.date()] = n_fresh
            canaries.append(n_canaries)
    return History(
        day_people=tuple(people),
        day_fresh=tuple(fresh),
        fresh_by_date=by_date,
        day_canaries=tuple(canaries),
        hour_of_day_requests=tuple(hours),
        expected_per_day=expected_per_day(session, processor_id=processor_id, on=at.date()),
    )


def _valid_on(on: date) -> Any:
    return and_(
        Contract.valid_from <= on, or_(Contract.valid_to.is_(None), Contract.valid_to >= on)
    )


def expected_per_day(session: Session, *, processor_id: int, on: date) -> int | None:
    """The normal daily volume declared on the processor's contracts valid on ``on``."""
    total = session.scalar(
        select(func.sum(Contract.expected_per_day)).where(
            Contract.processor_id == processor_id, _valid_on(on)
        )
    )
    return int(total) if total else None


def load_state(session: Session, *, processor_id: int, lock: bool = False) -> DetectorState:
    """The processor's detector state row (created if missing); ``lock`` serialises workers."""
    stmt = select(DetectorState).where(DetectorState.processor_id == processor_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(stmt).one_or_none()
    if row is not None:
        return row
    session.execute(
        _insert(session, DetectorState)
        .values(processor_id=processor_id, people_at_eval=0)
        .on_conflict_do_nothing()
    )
    return session.scalars(stmt).one()
