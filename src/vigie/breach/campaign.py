"""Where an incident's notice campaign stands: deliveries by channel and by language.

Read from the delivery log (``notice_deliveries``) that :mod:`vigie.breach.notify`
keeps, so the figures are those of the runs themselves — the CLI's and the console's
alike. Counts only, and the people no notice reached (by ``ref``, as
:func:`vigie.breach.public.unreachable` defines them): their number, and the first
``shown`` of them, found by the database rather than by reading every exposed person — a
page refreshed every few seconds during a campaign of millions stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from vigie.breach import incidents
from vigie.breach.models import NoticeDelivery
from vigie.breach.public import Unreachable
from vigie.registry.models import Subject

STATUSES = ("sent", "sending", "failed", "bounced", "no_contact")
"""Every status of a delivery, in the order a page shows them."""


@dataclass(frozen=True)
class CampaignProgress:
    """An incident's deliveries so far: ``{channel or language: {status: count}}``."""

    people: int
    by_channel: dict[str, dict[str, int]]
    by_language: dict[str, dict[str, int]]
    unreachable: list[Unreachable]  # the first ``shown``, by ref
    unreachable_count: int

    @property
    def started(self) -> bool:
        return bool(self.by_channel)

    @property
    def bounced(self) -> int:
        return sum(s.get("bounced", 0) for s in self.by_channel.values())


def _grouped(
    session: Session, incident_id: int, column: InstrumentedAttribute[str]
) -> dict[str, dict[str, int]]:
    stmt = (
        select(column, NoticeDelivery.status, func.count())
        .where(NoticeDelivery.incident_id == incident_id)
        .group_by(column, NoticeDelivery.status)
    )
    out: dict[str, dict[str, int]] = {}
    for key, status, count in session.execute(stmt):
        out.setdefault(str(key), dict.fromkeys(STATUSES, 0))[str(status)] = int(count)
    return dict(sorted(out.items()))


def _unreachable(session: Session, incident_id: int, shown: int) -> tuple[int, list[Unreachable]]:
    """How many people no notice reached, and the first ``shown`` of them by ``ref``."""
    reached = func.max(case((NoticeDelivery.status == "sent", 1), else_=0))
    missed = (
        select(NoticeDelivery.subject_id)
        .where(NoticeDelivery.incident_id == incident_id)
        .group_by(NoticeDelivery.subject_id)
        .having(reached == 0)
        .subquery()
    )
    count = int(session.scalar(select(func.count()).select_from(missed)) or 0)
    people = session.execute(
        select(Subject.id, Subject.ref, Subject.preferred_language)
        .join(missed, missed.c.subject_id == Subject.id)
        .order_by(Subject.ref)
        .limit(shown)
    ).all()
    reasons: dict[int, dict[str, str]] = {sid: {} for sid, _, _ in people}
    for sid, channel, status in session.execute(
        select(NoticeDelivery.subject_id, NoticeDelivery.channel, NoticeDelivery.status).where(
            NoticeDelivery.incident_id == incident_id,
            NoticeDelivery.subject_id.in_(list(reasons)),
        )
    ):
        reasons[sid][channel] = status
    return count, [
        Unreachable(ref=ref, language=lang, reasons=reasons[sid]) for sid, ref, lang in people
    ]


def campaign_progress(session: Session, *, incident_id: int, shown: int = 200) -> CampaignProgress:
    """The incident's notice deliveries by channel and by language, and who was missed."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    count, missed = _unreachable(session, incident.id, shown)
    return CampaignProgress(
        people=incidents.exposure_count(session, incident_id=incident.id),
        by_channel=_grouped(session, incident.id, NoticeDelivery.channel),
        by_language=_grouped(session, incident.id, NoticeDelivery.language),
        unreachable=missed,
        unreachable_count=count,
    )
