"""The incident's public page (Art. 34(3)(c) as a page), for the incidents the DPO publishes.

Publishing is a decision on the incident's timeline (``public_page``, audited as every
decision), and so is withdrawing it (``public_page_withdrawn``); an incident is on the
public service while its last such decision is ``public_page``. The page holds only what
the public notice holds: what happened, roughly how many people, which kinds of data,
what to do, how to recognise a genuine message, the contact point — nothing about any one
person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.breach import incidents
from vigie.breach.clock import Clock
from vigie.breach.models import IncidentEvent
from vigie.errors import NotFound

PUBLISH = "public_page"
WITHDRAW = "public_page_withdrawn"


@dataclass(frozen=True)
class PublishedIncident:
    """What the public page of an incident shows."""

    incident_id: int
    aware_on: date
    people: int
    fields: frozenset[str]


def publish(session: Session, *, incident_id: int, actor: str, clock: Clock | None = None) -> None:
    """Put the incident's page on the public service (a decision on its timeline)."""
    incidents.record_decision(session, incident_id=incident_id, kind=PUBLISH, actor=actor,
                              summary="incident page published on the public service",
                              clock=clock)  # fmt: skip


def withdraw(session: Session, *, incident_id: int, actor: str, clock: Clock | None = None) -> None:
    """Take the incident's page off the public service (a decision on its timeline)."""
    incidents.record_decision(session, incident_id=incident_id, kind=WITHDRAW, actor=actor,
                              summary="incident page withdrawn from the public service",
                              clock=clock)  # fmt: skip


def published_ids(session: Session) -> list[int]:
    """The incidents whose page is on the public service, in order."""
    last: dict[int, str] = {}
    rows = session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.kind)
        .where(IncidentEvent.kind.in_((PUBLISH, WITHDRAW)))
        .order_by(IncidentEvent.id)
    )
    for incident_id, kind in rows:
        last[incident_id] = kind
    return sorted(i for i, kind in last.items() if kind == PUBLISH)


def published_incident(session: Session, *, incident_id: int) -> PublishedIncident:
    """The public page's content; :class:`NotFound` when the incident is not published."""
    if incident_id not in published_ids(session):
        raise NotFound("no such incident page")
    incident = incidents.get_incident(session, incident_id=incident_id)
    summary = incidents.exposure_summary(session, incident_id=incident_id)
    return PublishedIncident(
        incident_id=incident_id,
        aware_on=incident.aware_at.date(),
        people=summary.people,
        fields=frozenset(summary.by_field),
    )
