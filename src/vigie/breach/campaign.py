"""Where an incident's notice campaign stands: deliveries by channel and by language.

Read from the delivery log (``notice_deliveries``) that :mod:`vigie.breach.notify`
keeps, so the figures are those of the runs themselves — the CLI's and the console's
alike. Counts only, and the people no notice reached (by ``ref``,
:func:`vigie.breach.public.unreachable`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from vigie.breach import incidents
from vigie.breach.models import NoticeDelivery
from vigie.breach.public import Unreachable, unreachable

STATUSES = ("sent", "sending", "failed", "bounced", "no_contact")
"""Every status of a delivery, in the order a page shows them."""


@dataclass(frozen=True)
class CampaignProgress:
    """An incident's deliveries so far: ``{channel or language: {status: count}}``."""

    people: int
    by_channel: dict[str, dict[str, int]]
    by_language: dict[str, dict[str, int]]
    unreachable: list[Unreachable]

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


def campaign_progress(session: Session, *, incident_id: int) -> CampaignProgress:
    """The incident's notice deliveries by channel and by language, and who was missed."""
    incident = incidents.get_incident(session, incident_id=incident_id)
    return CampaignProgress(
        people=incidents.exposure_count(session, incident_id=incident.id),
        by_channel=_grouped(session, incident.id, NoticeDelivery.channel),
        by_language=_grouped(session, incident.id, NoticeDelivery.language),
        unreachable=unreachable(session, incident_id=incident.id),
    )
