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
from typing import Any, cast

from sqlalchemy import CursorResult, and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

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


def _rowcount(session: Session, stmt: Any) -> int:
    result = cast(CursorResult[Any], session.execute(stmt))
    return int(result.rowcount or 0)


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


def _record_people(
    session: Session, *, processor_id: int, subject_ids: Sequence[int], at: datetime
) -> _PeopleCounts:
    ids = sorted(set(subject_ids))
    if not ids:
        return _PeopleCounts()
    d0, h0 = day_start(at), hour_start(at)
    fresh = day_old = hour_old = 0
    new_today: list[int] = []
    for chunk in _chunks(ids):
        known = set(
            session.scalars(
                select(Seen.subject_id).where(
                    Seen.processor_id == processor_id, Seen.subject_id.in_(chunk)
                )
            )
        )
        unknown = [s for s in chunk if s not in known]
        if unknown:
            stmt = _insert(session, Seen).values(
                [
                    {"processor_id": processor_id, "subject_id": s, "first_at": at, "last_at": at}
                    for s in unknown
                ]
            )
            inserted = session.scalars(
                stmt.on_conflict_do_nothing().returning(Seen.subject_id)
            ).all()
            fresh += len(inserted)
            new_today.extend(inserted)
        if known:
            where = (Seen.processor_id == processor_id, Seen.subject_id.in_(sorted(known)))
            rows = session.execute(
                update(Seen)
                .where(*where, Seen.last_at < d0)
                .values(last_at=at)
                .returning(Seen.subject_id)
            ).scalars()
            back_today = list(rows)
            day_old += len(back_today)
            new_today.extend(back_today)
            hour_old += _rowcount(
                session, update(Seen).where(*where, Seen.last_at < h0).values(last_at=at)
            )
    canaries = 0
    for chunk in _chunks(new_today):
        canaries += (
            session.scalar(
                select(func.count()).where(Subject.id.in_(chunk), Subject.is_canary.is_(True))
            )
            or 0
        )
    return _PeopleCounts(
        hour=fresh + day_old + hour_old, day=fresh + day_old, fresh=fresh, canaries=canaries
    )


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
    session.execute(
        _insert(session, ActivityWindow)
        .values(processor_id=processor_id, span=span, start=start)
        .on_conflict_do_nothing()
    )
    w = ActivityWindow
    seq = access.audit_seq
    cursor = access.cursor_position or 0
    values: dict[Any, Any] = {
        w.requests: w.requests + 1,
        w.people: w.people + people,
        w.fresh: w.fresh + fresh,
        w.canaries: w.canaries + canaries,
        w.listed: w.listed + (people if access.kind == "list" else 0),
        w.not_found: w.not_found + (1 if access.not_found else 0),
        w.expired: w.expired + (1 if access.expired_assignment else 0),
        w.cursor_max: case((w.cursor_max < cursor, cursor), else_=w.cursor_max),
    }
    if seq is not None:
        values[w.first_seq] = func.coalesce(w.first_seq, seq)
        values[w.last_seq] = case(
            (or_(w.last_seq.is_(None), w.last_seq < seq), seq), else_=w.last_seq
        )
    row = session.execute(
        update(w)
        .where(w.processor_id == processor_id, w.span == span, w.start == start)
        .values(values)
        .returning(
            w.requests,
            w.people,
            w.fresh,
            w.canaries,
            w.listed,
            w.not_found,
            w.expired,
            w.cursor_max,
            w.first_seq,
            w.last_seq,
        )
    ).one()
    return Counts(start, *row)


def _record_key(session: Session, *, access: Access) -> tuple[int, datetime | None]:
    pid, at = access.processor_id, access.at
    known_since = session.scalar(
        select(func.min(KeyActivity.first_at)).where(KeyActivity.processor_id == pid)
    )
    session.execute(
        _insert(session, KeyActivity)
        .values(processor_id=pid, key_id=access.key_id, first_at=at, last_at=at)
        .on_conflict_do_nothing()
    )
    session.execute(
        update(KeyActivity)
        .where(
            KeyActivity.processor_id == pid,
            KeyActivity.key_id == access.key_id,
            KeyActivity.last_at < at,
        )
        .values(last_at=at)
    )
    active = session.scalar(
        select(func.count()).where(
            KeyActivity.processor_id == pid, KeyActivity.last_at >= at - ACTIVE_KEY_WINDOW
        )
    )
    return int(active or 1), known_since


def _record_origin(session: Session, *, access: Access) -> str | None:
    network = network_of(access.origin)
    if network is None:
        return None
    pid, at = access.processor_id, access.at
    inserted = session.scalars(
        _insert(session, Origin)
        .values(processor_id=pid, network=network, first_at=at, last_at=at)
        .on_conflict_do_nothing()
        .returning(Origin.network)
    ).first()
    if inserted:
        return network
    session.execute(
        update(Origin)
        .where(
            Origin.processor_id == pid, Origin.network == network, Origin.last_at < hour_start(at)
        )
        .values(last_at=at)
    )
    return None


def record(session: Session, access: Access) -> Recorded:
    """Record one request in the shared counters; return the windows it falls in."""
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
    session.execute(
        _insert(session, DetectorState)
        .values(processor_id=processor_id, people_at_eval=0, scope_size=0)
        .on_conflict_do_nothing()
    )
    stmt = select(DetectorState).where(DetectorState.processor_id == processor_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one()
