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

Every prune appends ``audit:prune`` with the horizon (``through``: the last event it may
touch), the cut-off time, how many events it pruned and the checkpoint (id, size, root)
that signs their leaves. Verification (:mod:`vigie.audit.verify`, and the offline
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
from vigie.audit.trail import append
from vigie.breach.models import Incident

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
    transaction; append ``audit:prune`` when any was. Idempotent."""
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
            "through": through,
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


def horizon_of(detail: str | None) -> int:
    """The horizon an ``audit:prune`` event's detail announces (0 if it announces none)."""
    try:
        value = orjson.loads(detail or "{}").get("through", 0)
    except (orjson.JSONDecodeError, AttributeError):
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
