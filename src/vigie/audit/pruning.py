"""The audit trail's own retention: old disclosures lose their people, the tree keeps its leaves.

A disclosure event (``subject:read`` / ``subject:list``, outcome ``ok``) names the people a
processor received: personal data, kept for ``retention_audit_days``. Past that, the
event is **pruned in place**: its people (``subjects``) and ``detail`` are emptied and
its outcome becomes :data:`PRUNED`; its number, time, processor, key, purpose, fields,
``prev_hash`` and ``entry_hash`` stay. The Merkle leaves are those entry hashes, so the
tree, every signed checkpoint, every tile and every inclusion or consistency proof of a
kept event stay exactly what they were. A pruned event's contents can no longer be
re-hashed; what still binds it is its leaf under a signed root, and so only events that a
signed checkpoint covers are pruned.

Every prune appends ``audit:prune`` with the range it covers (``after``, the previous
prune's horizon, to ``through``, the last event it may touch), the cut-off time, how many
events it pruned, the :func:`digest` of what is left of them (number, time, actor,
processor, key, origin, action, purpose, fields: no longer bound by their own hash, now
bound by this chained event), and the checkpoint (id, size, root) that signs their
leaves. Verification (:mod:`vigie.audit.verify`, and the offline
verifier) accepts a pruned event only at or below the horizon of an ``audit:prune`` event
chained after it, and only under a checkpoint whose root it recomputes: pruning anything
else, or hiding a recent disclosure that way, fails verification.

What is never pruned:

- every event that is not an ``ok`` disclosure (operator actions, seals, checkpoints,
  processors, canaries, requirements, rotations...): they hold ids and counts, not
  people, and the other evidence checks rest on them;
- anything younger than the period, or after the last signed checkpoint;
- anything at all while an incident is open (a legal hold): an open incident may still
  need who received whom, for attribution, the authority pack or the notices.

The served index follows: rows of pruned events leave ``audit_disclosures``, receipts
whose every event was pruned leave ``audit_receipts`` and the others start at their first
kept event, and a field no kept disclosure carried leaves ``audit_processor_fields`` —
so the index stays equal to what the kept events say, which verification checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, delete, desc, func, select, tuple_, update
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.audit.models import (
    DISCLOSURES,
    EVENTS,
    PROCESSOR_FIELDS,
    RECEIPTS,
    AuditCheckpoint,
    to_us,
)
from vigie.audit.trail import DISCLOSURES as DISCLOSING
from vigie.audit.trail import append, lock_head
from vigie.breach.models import Incident
from vigie.errors import IntegrityError

PRUNED = "pruned"
"""The outcome of a pruned disclosure event."""
_DISCLOSING = [a.value for a in DISCLOSING]


@dataclass(frozen=True)
class Pruned:
    """What one prune did (or, ``dry_run``, would do)."""

    events: int
    """Disclosure events pruned (or due)."""
    through: int
    """The horizon: no event after it was touched (0: none may be)."""
    held: str | None = None
    """Why nothing was pruned although events were due (a legal hold), if so."""
    checkpoint: int | None = None
    """The checkpoint whose signed root covers the pruned leaves."""

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "through": self.through,
            "held": self.held,
            "checkpoint": self.checkpoint,
        }


def _horizon(session: Session, before_us: int) -> tuple[int, AuditCheckpoint | None]:
    """The last event both older than ``before_us`` and signed; the checkpoint that signs it."""
    last = session.scalars(select(AuditCheckpoint).order_by(desc(AuditCheckpoint.id))).first()
    if last is None or last.size == 0:
        return 0, None
    young = session.scalar(select(func.min(EVENTS.c.seq)).where(EVENTS.c.at_us >= before_us))
    old_end = last.size if young is None else young - 1
    return min(old_end, last.size), last


def _due(through: int) -> Any:
    return and_(
        EVENTS.c.seq <= through,
        EVENTS.c.action.in_(_DISCLOSING),
        EVENTS.c.outcome == "ok",
    )


def prune(
    session: Session,
    *,
    days: int,
    actor: str,
    now: datetime,
    dry_run: bool = False,
) -> Pruned:
    """Prune the disclosure events older than ``days`` (see the module), in the caller's
    transaction; append ``audit:prune`` when any was. Idempotent.

    Locks the chain head first (unless ``dry_run``): two runs at once (a worker's and a
    cron's) follow one another, the second finding nothing left, so the ``audit:prune``
    ranges stay one after the other. Appends wait meanwhile (seconds for 200,000 events).
    """
    if not dry_run:
        lock_head(session.connection())
    before_us = to_us(now - timedelta(days=days))
    through, checkpoint = _horizon(session, before_us)
    due = (
        session.scalar(select(func.count()).select_from(EVENTS).where(_due(through)))
        if through
        else 0
    ) or 0
    open_incidents = session.scalar(
        select(func.count()).select_from(Incident).where(Incident.status == "open")
    )
    if due and open_incidents:
        return Pruned(events=0, through=0, held=f"{open_incidents} open incident(s)")
    if dry_run or not due:
        return Pruned(events=due, through=through if due else 0)
    assert checkpoint is not None
    after = _last_horizon(session)
    left = digest(
        session.execute(
            select(*(EVENTS.c[name] for name in KEPT)).where(_due(through)).order_by(EVENTS.c.seq)
        )
    )
    session.execute(
        update(EVENTS)
        .where(_due(through))
        .values(outcome=PRUNED, subjects=b"", detail=None)
        .execution_options(synchronize_session=False)
    )
    _follow_index(session, through)
    append(
        session,
        action=Action.AUDIT_PRUNE,
        actor=actor,
        detail={
            "after": after,
            "through": through,
            "digest": left,
            "before_us": before_us,
            "events": due,
            "checkpoint": checkpoint.id,
            "size": checkpoint.size,
            "root": bytes(checkpoint.root).hex(),
        },
    )
    return Pruned(events=due, through=through, checkpoint=checkpoint.id)


def _follow_index(session: Session, through: int) -> None:
    """Make the served index what the kept events say (see the module)."""
    session.execute(delete(DISCLOSURES).where(DISCLOSURES.c.seq <= through))
    session.execute(delete(RECEIPTS).where(RECEIPTS.c.last_seq <= through))

    def first(column: Any) -> Any:
        return (
            select(func.min(column))
            .select_from(DISCLOSURES.join(EVENTS, EVENTS.c.seq == DISCLOSURES.c.seq))
            .where(
                DISCLOSURES.c.processor_id == RECEIPTS.c.processor_id,
                DISCLOSURES.c.subject_id == RECEIPTS.c.subject_id,
                EVENTS.c.fields == RECEIPTS.c.fields,
            )
            .scalar_subquery()
        )

    session.execute(
        update(RECEIPTS)
        .where(RECEIPTS.c.first_seq <= through)
        .values(first_seq=first(DISCLOSURES.c.seq), first_us=first(DISCLOSURES.c.at_us))
        .execution_options(synchronize_session=False)
    )
    carried: set[tuple[int, str]] = set()
    for processor_id, fields in session.execute(
        select(EVENTS.c.processor_id, EVENTS.c.fields)
        .where(
            EVENTS.c.action.in_(_DISCLOSING),
            EVENTS.c.outcome == "ok",
            EVENTS.c.processor_id.is_not(None),
            func.length(EVENTS.c.subjects) > 0,
        )
        .distinct()
    ):
        carried.update((processor_id, f) for f in fields.split(",") if f)
    held = set(session.execute(select(PROCESSOR_FIELDS.c.processor_id, PROCESSOR_FIELDS.c.field)))
    gone = sorted(held - carried)
    if gone:
        session.execute(
            delete(PROCESSOR_FIELDS).where(
                tuple_(PROCESSOR_FIELDS.c.processor_id, PROCESSOR_FIELDS.c.field).in_(gone)
            )
        )


KEPT = ("seq", "at_us", "actor", "processor_id", "key_id", "origin", "action", "purpose",
        "fields")  # fmt: skip
"""What a pruned event keeps, in the order :func:`digest` reads it."""


def digest(rows: Iterable[Sequence[Any]]) -> str:
    """SHA-256 (hex) of the kept columns of pruned events (:data:`KEPT`), one compact JSON
    array per event and line, in event order: what ``audit:prune`` binds them by."""
    sha = hashlib.sha256()
    for row in rows:
        sha.update(orjson.dumps(list(row)) + b"\n")
    return sha.hexdigest()


def _last_horizon(session: Session) -> int:
    last = session.scalar(
        select(EVENTS.c.detail)
        .where(EVENTS.c.action == Action.AUDIT_PRUNE.value)
        .order_by(desc(EVENTS.c.seq))
        .limit(1)
    )
    return horizon_of(last)


def check_prunes(
    announced: Sequence[tuple[int, str | None]], rows: Iterable[Sequence[Any]]
) -> None:
    """Raise :class:`IntegrityError` unless the ``audit:prune`` events (seq, detail, in
    order) follow one another (each starts where the last ended) and each one's digest is
    that of the pruned events of its range (``rows``: their :data:`KEPT` columns, in order)."""
    pending = list(rows)
    at = 0
    previous = 0
    for seq, detail in announced:
        data = _detail(detail)
        after, through, said = data.get("after"), data.get("through"), data.get("digest")
        if after != previous or not isinstance(through, int) or through < previous:
            raise IntegrityError(
                f"event {seq} (audit:prune): its range does not follow the previous prune's"
            )
        end = at
        while end < len(pending) and pending[end][0] <= through:
            end += 1
        if digest(pending[at:end]) != said:
            raise IntegrityError(
                f"event {seq} (audit:prune): the events it pruned (up to event {through}) are "
                "no longer as it recorded them (a pruned event's time, processor, key, "
                "purpose or fields was altered)"
            )
        at, previous = end, through


def _detail(detail: str | None) -> dict[str, Any]:
    try:
        data = orjson.loads(detail or "{}")
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def horizon_of(detail: str | None) -> int:
    """The horizon an ``audit:prune`` event's detail announces (0 if it announces none)."""
    try:
        value = orjson.loads(detail or "{}").get("through", 0)
    except (orjson.JSONDecodeError, AttributeError):
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
