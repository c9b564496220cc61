"""Detection's record of one request in one statement, with its throttle check (PostgreSQL).

:func:`vigie.detection.state.record` runs one statement per table through the ORM (the
people seen, their canaries, the hour and the day windows, the key, the keys active,
the origin) and the pipeline reads the throttle and the detector state besides: about a
dozen round trips per request on PostgreSQL, a millisecond each on a 1 ms link, and the
ORM's CPU for each. Here the same writes are data-modifying common table expressions of
a single statement, sent on the driver's cursor (:mod:`vigie.store.raw`). The detection
pipeline sends it on its own (``alone``: it commits as it ends, one round trip, no
``BEGIN`` nor ``COMMIT``); the alerts and evaluations that may follow, rarely, are a
transaction of their own. The record of a request stands even if they then fail: the
request it counts was committed (in the trail and the ledger) before detection ran, and
its answer is withheld all the same, so the counters may over-state, never under-state,
as the trail does.

Same counts, same races, as the statements it replaces:

- every write is still an idempotent insert (``ON CONFLICT DO NOTHING``) or a relative
  update, so workers on several hosts recording at once lose no count; "fresh" people
  are those whose insert this statement made (``RETURNING``), so two workers reading
  the same new person count them once;
- what the reads of the statement see is its snapshot, from before its own writes, as
  the separate statements saw theirs: the keys active count this request's key by
  construction (its ``last_at`` is now at least the request time), the earliest key
  time takes the request time for a key never seen;
- the throttle is read in the same snapshot; a throttled request (``enforce``) writes
  nothing, as the throttle check before the record did: only its refusal is returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer
from sqlalchemy.orm import Session

from vigie.detection.findings import Counts
from vigie.detection.models import (
    ActivityWindow,
    DetectorState,
    KeyActivity,
    Origin,
    Seen,
    Throttle,
)
from vigie.gateway.observe import Access
from vigie.registry.models import Subject
from vigie.store import pipeline, raw
from vigie.store.base import UTCDateTime

_SQL = f"""
WITH thr AS (
  SELECT MAX(until) AS until FROM {Throttle.__tablename__}
  WHERE :enforce AND processor_id = :pid AND until > :at AND (key_id = :kid OR key_id IS NULL)
), go AS (
  SELECT 1 AS ok FROM thr WHERE thr.until IS NULL
), ids AS (
  SELECT DISTINCT unnest(CAST(:ids AS bigint[])) AS sid
), old AS (
  SELECT s.subject_id AS sid, s.last_at FROM {Seen.__tablename__} s
  WHERE s.processor_id = :pid AND s.subject_id IN (SELECT sid FROM ids)
), ins AS (
  INSERT INTO {Seen.__tablename__} (processor_id, subject_id, first_at, last_at)
  SELECT :pid, sid, :at, :at FROM ids, go WHERE sid NOT IN (SELECT sid FROM old)
  ON CONFLICT DO NOTHING RETURNING subject_id AS sid
), touch AS (
  UPDATE {Seen.__tablename__} SET last_at = :at
  WHERE processor_id = :pid AND last_at < :at AND EXISTS (SELECT 1 FROM go)
    AND subject_id IN (SELECT sid FROM old WHERE last_at < :hour)
), n AS (
  SELECT
    (SELECT COUNT(*) FROM ins) AS fresh,
    (SELECT COUNT(*) FROM old WHERE last_at < :day) AS day_old,
    (SELECT COUNT(*) FROM old WHERE last_at >= :day AND last_at < :hour) AS hour_old,
    (SELECT COUNT(*) FROM {Subject.__tablename__} WHERE is_canary AND id IN (
       SELECT sid FROM ins UNION SELECT sid FROM old WHERE last_at < :day)) AS canaries
), p AS (
  SELECT 'hour' AS span, CAST(:hour AS timestamptz) AS start,
         fresh + day_old + hour_old AS people, fresh, canaries FROM n, go
  UNION ALL
  SELECT 'day', CAST(:day AS timestamptz), fresh + day_old, fresh, canaries FROM n, go
), w AS (
  INSERT INTO {ActivityWindow.__tablename__} AS t (processor_id, span, start, requests, people,
    fresh, canaries, listed, not_found, expired, cursor_max, first_seq, last_seq)
  SELECT :pid, span, start, 1, people, fresh, canaries, CASE WHEN :listed THEN people ELSE 0 END,
    CAST(:not_found AS integer), CAST(:expired AS integer), CAST(:cursor AS integer),
    CAST(:seq AS bigint), CAST(:seq AS bigint) FROM p
  ON CONFLICT (processor_id, span, start) DO UPDATE SET
    requests = t.requests + excluded.requests, people = t.people + excluded.people,
    fresh = t.fresh + excluded.fresh, canaries = t.canaries + excluded.canaries,
    listed = t.listed + excluded.listed, not_found = t.not_found + excluded.not_found,
    expired = t.expired + excluded.expired,
    cursor_max = GREATEST(t.cursor_max, excluded.cursor_max),
    first_seq = COALESCE(t.first_seq, excluded.first_seq),
    last_seq = CASE WHEN t.last_seq IS NULL OR t.last_seq < excluded.last_seq
                    THEN excluded.last_seq ELSE t.last_seq END
  RETURNING span, start, requests, people, fresh, canaries, listed, not_found, expired,
    cursor_max, first_seq, last_seq
), k AS (
  INSERT INTO {KeyActivity.__tablename__} AS t (processor_id, key_id, first_at, last_at)
  SELECT :pid, :kid, :at, :at FROM go
  ON CONFLICT (processor_id, key_id) DO UPDATE SET last_at = excluded.last_at
  WHERE t.last_at < excluded.last_at
), ka AS (
  SELECT COUNT(*) FILTER (WHERE key_id <> :kid AND last_at >= :since) + 1 AS active,
    CASE WHEN bool_or(key_id = :kid) THEN MIN(first_at) ELSE LEAST(MIN(first_at), :at) END
      AS known_since
  FROM {KeyActivity.__tablename__} WHERE processor_id = :pid
), o AS (
  INSERT INTO {Origin.__tablename__} AS t (processor_id, network, first_at, last_at)
  SELECT :pid, CAST(:net AS varchar), :at, :at FROM go WHERE CAST(:net AS varchar) IS NOT NULL
  ON CONFLICT (processor_id, network) DO UPDATE SET last_at = excluded.last_at
  WHERE t.last_at < :day
  RETURNING first_at
), st AS (
  SELECT evaluated_at, people_at_eval FROM {DetectorState.__tablename__} WHERE processor_id = :pid
)
SELECT thr.until, (SELECT active FROM ka), (SELECT known_since FROM ka),
  (SELECT first_at FROM o), (SELECT COUNT(*) FROM st), (SELECT evaluated_at FROM st),
  (SELECT people_at_eval FROM st), w.span, w.start, w.requests, w.people, w.fresh, w.canaries,
  w.listed, w.not_found, w.expired, w.cursor_max, w.first_seq, w.last_seq
FROM thr LEFT JOIN w ON true
"""

_NAME = re.compile(r"(?<![:\w]):(\w+)")
_ORDER = _NAME.findall(_SQL)
_WHEN = UTCDateTime()
_KINDS: dict[str, raw.Kind] = {
    "enforce": Boolean(),
    "listed": Boolean(),
    "at": _WHEN,
    "day": _WHEN,
    "hour": _WHEN,
    "since": _WHEN,
    "not_found": Integer(),
    "expired": Integer(),
}
_STATEMENT = raw.Statement(
    _NAME.sub("?", _SQL),
    params=[_KINDS.get(name) for name in _ORDER],
    columns=(_WHEN, None, _WHEN, _WHEN, None, _WHEN, None, None, _WHEN),
)


@dataclass(frozen=True)
class Recorded:
    """What the statement found: the throttle in force (None: not throttled, and the
    request was recorded), the windows, the keys, the origin, the detector state."""

    throttled_until: datetime | None
    hour: Counts
    day: Counts
    active_keys: int
    known_since: datetime | None
    new_origin: bool
    has_state: bool
    evaluated_at: datetime | None
    people_at_eval: int


def record(
    session: Session,
    access: Access,
    *,
    enforce: bool,
    network: str | None,
    hour: datetime,
    day: datetime,
    since: datetime,
    alone: bool = False,
) -> Recorded:
    """Check the throttle (if ``enforce``) and record ``access``, in one round trip.

    ``alone``: if the session has sent nothing yet, the statement commits on its own
    (:func:`vigie.store.pipeline.alone`: no ``BEGIN``, no ``COMMIT``); what follows in the
    session is a transaction of its own. Otherwise, or if not ``alone``, it runs in the
    session's transaction (its first statement, with its ``BEGIN``).
    """
    values: dict[str, Any] = {
        "enforce": enforce,
        "pid": access.processor_id,
        "kid": access.key_id,
        "at": access.at,
        "ids": sorted({int(s) for s in access.subject_ids}),
        "hour": hour,
        "day": day,
        "since": since,
        "net": network,
        "listed": access.kind == "list",
        "not_found": 1 if access.not_found else 0,
        "expired": 1 if access.expired_assignment else 0,
        "cursor": access.cursor_position or 0,
        "seq": access.audit_seq,
    }
    params = [values[n] for n in _ORDER]
    connection = session.connection()
    cursor = raw.cursor_of(connection)
    rows = None
    if alone:
        with pipeline.alone(connection) as done:
            if done:
                rows = cursor.all(_STATEMENT, params)
    if rows is None:
        rows = cursor.together([(_STATEMENT, params)])[0]
    until, active, known_since, origin_first, has_state, evaluated_at, at_eval = rows[0][:7]
    windows = {row[7]: Counts(*row[8:]) for row in rows if row[7] is not None}
    if until is None and set(windows) != {"hour", "day"}:
        raise RuntimeError("detection's record returned no window")  # fail closed
    return Recorded(
        throttled_until=until,
        hour=windows.get("hour", Counts()),
        day=windows.get("day", Counts()),
        active_keys=int(active or 1),
        known_since=known_since,
        new_origin=origin_first is not None and origin_first >= access.at,
        has_state=bool(has_state),
        evaluated_at=evaluated_at,
        people_at_eval=int(at_eval or 0),
    )
