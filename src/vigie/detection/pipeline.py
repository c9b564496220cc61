"""The detection pipeline the gateway calls on every request (an ``AccessObserver``).

The gateway calls :meth:`DetectionPipeline.admit` before charging each request (the
throttle check, one indexed read; as :meth:`DetectionPipeline.admission`, sent with the
charge in its round trip) and :meth:`DetectionPipeline.observe` once the request
has committed, in a transaction of its own, before the answer leaves (never inside the
disclosure's transaction, so never while its processor's lock is held). For each request:

1. **Throttle check** (inline): a throttled key or processor gets
   :class:`~vigie.errors.BudgetExceeded` with ``retry_after`` (in ``admit``; ``observe``
   checks again, and a throttle placed meanwhile withholds the answer). Requests the
   gateway refuses anyway (shown with their 4xx status) are only recorded: a failed
   look-up is answered 404 throttled or not.
2. **Record** the request in the shared counters (:mod:`~vigie.detection.state`; on
   PostgreSQL the throttle check, the record and the detector state's read are one
   statement, :mod:`~vigie.detection.record_sql`, committed on its own: one round trip
   for a request that trips nothing and has no evaluation due).
3. **Inline detectors** (probing, new origin, many keys) decide on the fresh counts.
4. **Streaming detectors** (volume, sweep, canary pattern, rare hour) need the baseline
   and the scope size; they run when ``eval_every_people`` (25) new distinct people were
   disclosed to the processor today since they last ran, or ``eval_every`` (60 s of
   request time) passed. That is the bounded delay: a statistical rule trips at most 25
   people (plus the current page) after its threshold is crossed. Workers take turns
   through a row lock on the processor's state row (PostgreSQL), so each evaluation sees
   every worker's counts.
5. Findings become alerts (:func:`~vigie.detection.alerts.raise_alert`), once per
   detector window, with their containment. The request that trips a rule is answered
   (its containment commits before the answer leaves); the next one meets the
   suspension or throttle.

After detection's transaction commits, new alerts are handed to the notifier.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from vigie.detection import record_sql, state
from vigie.detection.alerts import already_raised, raise_alert
from vigie.detection.canary import CanaryDetector
from vigie.detection.containment import (
    DEFAULT_THROTTLE,
    enforce_throttle,
    throttle_admission,
    throttled,
)
from vigie.detection.findings import Counts, Detector, Finding, Snapshot
from vigie.detection.models import DetectorState
from vigie.detection.multikey import MultiKeyDetector
from vigie.detection.notify import DeliveryFailed, Notifier, NullNotifier, deliver_pending
from vigie.detection.origin import NewOriginDetector, network_of
from vigie.detection.probing import ProbeDetector
from vigie.detection.sweep import SweepDetector
from vigie.detection.timing import RareHourDetector
from vigie.detection.volume import VolumeDetector
from vigie.gateway.observe import Access, Admission
from vigie.ops.logs import Code
from vigie.processors.counts import scope_sizes
from vigie.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectionConfig:
    """How often the streaming detectors run, and how long a throttle lasts."""

    eval_every_people: int = 25
    eval_every: timedelta = timedelta(seconds=60)
    throttle_for: timedelta = DEFAULT_THROTTLE

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectionConfig:
        """The configuration the ``detection_*`` settings describe."""
        return cls(
            eval_every_people=settings.detection_eval_every_people,
            eval_every=timedelta(seconds=settings.detection_eval_every_seconds),
            throttle_for=timedelta(minutes=settings.detection_throttle_minutes),
        )


def default_detectors() -> list[Detector]:
    """Every detector, with its documented thresholds."""
    return [
        ProbeDetector(),
        NewOriginDetector(),
        MultiKeyDetector(),
        VolumeDetector(),
        SweepDetector(),
        CanaryDetector(),
        RareHourDetector(),
    ]


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _evidence(finding: Finding, window: Counts) -> dict[str, Any]:
    evidence = {k: _json(v) for k, v in finding.figures.items()}
    evidence["rule"] = finding.rule
    evidence["audit_seq_from"] = window.first_seq
    evidence["audit_seq_to"] = window.last_seq
    if window.start is not None:
        evidence["window_start"] = window.start.isoformat()
    return evidence


class DetectionPipeline:
    """Detectors wired to the gateway: record, decide inline, evaluate streaming, contain."""

    def __init__(
        self,
        *,
        config: DetectionConfig | None = None,
        detectors: Sequence[Detector] | None = None,
        notifier: Notifier | None = None,
        sessions: sessionmaker[Session] | None = None,
    ) -> None:
        chosen = default_detectors() if detectors is None else list(detectors)
        if not chosen:
            raise ValueError("a detection pipeline needs at least one detector")
        self.config = config or DetectionConfig()
        self.inline = [d for d in chosen if d.inline]
        self.streaming = [d for d in chosen if not d.inline]
        self.notifier = notifier or NullNotifier()
        self.sessions = sessions

    def admit(self, session: Session, *, processor_id: int, key_id: int, at: datetime) -> None:
        """Raise ``BudgetExceeded`` if the key or its processor is throttled at ``at``."""
        enforce_throttle(session, processor_id=processor_id, key_id=key_id, at=at)

    def admission(self, *, processor_id: int, key_id: int, at: datetime) -> Admission:
        """:meth:`admit` as a statement the gateway sends with the request's charge."""
        return throttle_admission(processor_id=processor_id, key_id=key_id, at=at)

    def observe(self, session: Session, access: Access) -> None:
        """Record ``access``; raise ``BudgetExceeded`` if its key or processor is throttled.

        A request the gateway refuses already (``status`` 4xx: failed look-up, budget…)
        is only recorded and examined: the throttle has nothing left to stop.
        """
        if session.get_bind().dialect.name == "postgresql":
            snapshot, due = self._record_in_one(session, access)
        else:
            if access.status < 400:
                enforce_throttle(
                    session, processor_id=access.processor_id, key_id=access.key_id, at=access.at
                )
            rec = state.record(session, access)
            snapshot = _snapshot(access, rec, new_origin=rec.new_origin)
            due = bool(self.streaming) and self._due(session, snapshot)
        findings = [f for d in self.inline for f in d.examine(snapshot)]
        if self.streaming and due:
            findings += self._evaluate(session, snapshot)
        raised = 0
        for finding in findings:
            raised += self._raise(session, access, snapshot, finding)
        if raised and self.sessions is not None and not isinstance(self.notifier, NullNotifier):
            event.listen(session, "after_commit", self._deliver, once=True)

    def _record_in_one(self, session: Session, access: Access) -> tuple[Snapshot, bool]:
        """PostgreSQL: the throttle check, the record and the detector state in one
        statement (:mod:`vigie.detection.record_sql`); the snapshot and whether the
        streaming detectors are due."""
        rec = record_sql.record(
            session,
            access,
            enforce=access.status < 400,
            network=network_of(access.origin),
            hour=state.hour_start(access.at),
            day=state.day_start(access.at),
            since=access.at - state.ACTIVE_KEY_WINDOW,
            alone=True,
        )
        if rec.throttled_until is not None:
            raise throttled(until=rec.throttled_until, at=access.at)
        snapshot = _snapshot(
            access, rec, new_origin=network_of(access.origin) if rec.new_origin else None
        )
        # A processor without a state row has never been evaluated: due (its row is
        # created under lock by the evaluation).
        due = not rec.has_state or self._due_at(rec.evaluated_at, rec.people_at_eval, snapshot)
        return snapshot, due

    def _due_at(self, last: datetime | None, people_at_eval: int, snapshot: Snapshot) -> bool:
        if last is None or state.day_start(last) != state.day_start(snapshot.at):
            return True
        if snapshot.at - last >= self.config.eval_every:
            return True
        return snapshot.day.people - people_at_eval >= self.config.eval_every_people

    def _is_due(self, row: DetectorState, snapshot: Snapshot) -> bool:
        return self._due_at(row.evaluated_at, row.people_at_eval, snapshot)

    def _due(self, session: Session, snapshot: Snapshot) -> bool:
        return self._is_due(state.load_state(session, processor_id=snapshot.processor_id), snapshot)

    def _evaluate(self, session: Session, snapshot: Snapshot) -> list[Finding]:
        pid = snapshot.processor_id
        row = state.load_state(session, processor_id=pid, lock=True)
        if not self._is_due(row, snapshot):  # another worker just ran them
            return []
        # The stored count (one indexed read; counted again only on a day the scope
        # changed by the calendar alone, see vigie.processors.counts).
        size = scope_sizes(session, on=snapshot.at.date(), processor_ids=[pid])[pid]
        full = replace(
            snapshot,
            history=state.history(session, processor_id=pid, at=snapshot.at),
            scope_size=size,
        )
        row.evaluated_at = snapshot.at
        row.people_at_eval = snapshot.day.people
        return [f for d in self.streaming for f in d.examine(full)]

    def _raise(self, session: Session, access: Access, snapshot: Snapshot, finding: Finding) -> int:
        key = finding.dedupe_key(access.processor_id)
        if already_raised(session, dedupe=key):
            return 0
        state.load_state(session, processor_id=access.processor_id, lock=True)
        if already_raised(session, dedupe=key):  # raised by another worker meanwhile
            return 0
        window = snapshot.hour if finding.window == snapshot.hour.start else snapshot.day
        raise_alert(
            session,
            detector=finding.detector,
            severity=finding.severity,
            processor_id=access.processor_id,
            key_id=access.key_id,
            summary=finding.summary,
            evidence=_evidence(finding, window),
            now=access.at,
            dedupe=key,
            throttle_for=self.config.throttle_for,
        )
        return 1

    def _deliver(self, _session: Session) -> None:
        assert self.sessions is not None
        try:
            with self.sessions.begin() as session:
                deliver_pending(session, notifier=self.notifier)
        except (DeliveryFailed, SQLAlchemyError) as exc:  # kept for the next delivery run
            log.warning("alert delivery deferred: %s", Code(type(exc).__name__))


def _snapshot(access: Access, rec: Any, *, new_origin: str | None) -> Snapshot:
    """What the detectors see of ``access``, from its record (SQLite's
    :func:`vigie.detection.state.record` or PostgreSQL's :func:`record_sql.record`)."""
    return Snapshot(
        processor_id=access.processor_id,
        key_id=access.key_id,
        at=access.at,
        hour=rec.hour,
        day=rec.day,
        active_keys=rec.active_keys,
        new_origin=new_origin,
        known_since=rec.known_since,
    )
