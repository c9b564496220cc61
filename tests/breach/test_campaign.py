"""A campaign's progress: deliveries by channel and language; the people no notice reached
are those of ``vigie.breach.public.unreachable``, counted and listed by the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from vigie.breach.campaign import campaign_progress
from vigie.breach.clock import FixedClock
from vigie.breach.incidents import open_incident, record_exposure
from vigie.breach.models import NoticeDelivery
from vigie.breach.public import unreachable

# person index -> {channel: status}; the last person has no delivery at all.
DELIVERIES = [
    {"email": "sent"},
    {"email": "bounced", "sms": "sent"},
    {"email": "bounced", "sms": "no_contact"},
    {"email": "no_contact"},
    {"email": "failed", "sms": "sending"},
    {},
]


def test_progress_counts_and_the_unreachable(
    sessions: sessionmaker[Session], subject_ids: list[int], clock: FixedClock
) -> None:
    people = subject_ids[: len(DELIVERIES)]
    with sessions.begin() as s:
        incident = open_incident(
            s, title="t", source="manual", aware_at=clock.now() - timedelta(hours=1),
            actor="operator:test", clock=clock,
        )  # fmt: skip
        record_exposure(
            s, incident_id=incident.id, exposures={p: ["email"] for p in people},
            actor="operator:test", clock=clock,
        )  # fmt: skip
        for sid, channels in zip(people, DELIVERIES, strict=True):
            for channel, status in channels.items():
                s.add(
                    NoticeDelivery(
                        incident_id=incident.id, subject_id=sid, channel=channel,
                        status=status, language="fr", attempts=1, attempt_at=clock.now(),
                    )
                )  # fmt: skip
        incident_id = incident.id
    with sessions() as s:
        progress = campaign_progress(s, incident_id=incident_id)
        expected = unreachable(s, incident_id=incident_id)
        first = campaign_progress(s, incident_id=incident_id, shown=1)
    assert progress.people == len(DELIVERIES)
    assert progress.by_channel["email"] == {
        "sent": 1, "sending": 0, "failed": 1, "bounced": 2, "no_contact": 1
    }  # fmt: skip
    assert progress.by_channel["sms"]["sent"] == 1 and progress.bounced == 2
    assert sum(progress.by_language["fr"].values()) == 8
    assert progress.unreachable == expected and progress.unreachable_count == 3
    assert first.unreachable == expected[:1] and first.unreachable_count == 3
