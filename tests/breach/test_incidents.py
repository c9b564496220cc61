"""Incidents: opening, evidence, exposures, the timeline and the audit of each decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from vigie.breach import incidents
from vigie.breach.clock import FixedClock, format_time_left
from vigie.errors import InvalidInput, NotFound

ACTOR = "operator:cli"


def test_open_records_clock_evidence_and_timeline(
    session: Session, processor_id: int, clock: FixedClock
) -> None:
    aware = clock.now() - timedelta(hours=2)
    inc = incidents.open_incident(
        session,
        title="Bulk extraction by lingua",
        source="alert",
        aware_at=aware,
        actor="system:detection",
        processor_id=processor_id,
        evidence={"ref": "alert:7", "alert_id": 7, "people": 5000},
        clock=clock,
    )
    assert inc.id and inc.status == "open"
    assert incidents.find_open_incident(session, processor_id=processor_id) is inc
    ev = incidents.evidence_of(session, incident_id=inc.id)
    assert [(e.kind, e.ref) for e in ev] == [("alert", "alert:7")]
    kinds = [e.kind for e in incidents.timeline(session, incident_id=inc.id)]
    assert kinds == ["open", "evidence"]
    assert all(e.audit_seq is not None for e in incidents.timeline(session, incident_id=inc.id))
    assert format_time_left(inc.aware_at, clock.now()) == "70h 00m left"


def test_find_open_ignores_closed_and_other_processors(
    session: Session, processor_id: int, clock: FixedClock
) -> None:
    inc = incidents.open_incident(
        session,
        title="t",
        source="manual",
        aware_at=clock.now(),
        actor=ACTOR,
        processor_id=processor_id,
        clock=clock,
    )
    assert incidents.find_open_incident(session, processor_id=processor_id + 1) is None
    incidents.close_incident(session, incident_id=inc.id, actor=ACTOR, reason="false alarm")
    assert incidents.find_open_incident(session, processor_id=processor_id) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "rumour"}, "source must be one of"),
        ({"title": "  "}, "needs a title"),
        ({"aware_at": datetime(2026, 1, 1)}, "timezone"),
    ],
)
def test_open_refuses_bad_input(session: Session, kwargs: dict, message: str) -> None:
    args = {"title": "t", "source": "manual", "aware_at": datetime(2026, 1, 1, tzinfo=UTC)}
    args.update(kwargs)
    with pytest.raises(InvalidInput, match=message):
        incidents.open_incident(session, actor=ACTOR, **args)


def test_record_exposure_merges_fields(
    session: Session, subject_ids: list[int], clock: FixedClock
) -> None:
    inc = incidents.open_incident(
        session, title="t", source="leak", aware_at=clock.now(), actor=ACTOR, clock=clock
    )
    a, b = subject_ids[:2]
    assert (
        incidents.record_exposure(
            session,
            incident_id=inc.id,
            exposures={a: ["email"], b: {"phone", "email"}},
            actor=ACTOR,
        )
        == 2
    )
    # Same again: nothing new. A new field for a: grows.
    assert (
        incidents.record_exposure(
            session, incident_id=inc.id, exposures={b: ["phone"]}, actor=ACTOR
        )
        == 0
    )
    assert (
        incidents.record_exposure(
            session, incident_id=inc.id, exposures={a: ["nationality"]}, actor=ACTOR
        )
        == 1
    )
    got = incidents.exposures_of(session, incident_id=inc.id)
    assert got == {a: frozenset({"email", "nationality"}), b: frozenset({"email", "phone"})}
    summary = incidents.exposure_summary(session, incident_id=inc.id)
    assert summary.people == 2
    assert summary.by_field == {"email": 2, "nationality": 1, "phone": 1}


def test_processor_duty_and_register(session: Session, clock: FixedClock) -> None:
    inc = incidents.open_incident(
        session, title="t", source="manual", aware_at=clock.now(), actor=ACTOR, clock=clock
    )
    incidents.record_processor_duty(
        session,
        incident_id=inc.id,
        actor=ACTOR,
        informed_at=None,
        note="learned from the dump's publication",
    )
    assert inc.processor_informed_at is None and "publication" in (inc.processor_duty_note or "")
    when = clock.now() + timedelta(hours=1)
    incidents.record_processor_duty(
        session, incident_id=inc.id, actor=ACTOR, informed_at=when, how="e-mail to the DPO"
    )
    incidents.update_register(
        session,
        incident_id=inc.id,
        actor=ACTOR,
        effects="risk of phishing",
        remedial_action="keys revoked",
    )
    assert inc.processor_informed_at == when and inc.effects == "risk of phishing"
    kinds = [e.kind for e in incidents.timeline(session, incident_id=inc.id)]
    assert kinds == ["open", "processor_duty", "processor_duty", "register"]


def test_unknown_incident(session: Session) -> None:
    with pytest.raises(NotFound):
        incidents.add_evidence(
            session, incident_id=999, kind="alert", ref="alert:1", detail={}, actor=ACTOR
        )


def test_time_left_formats_overdue() -> None:
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    assert format_time_left(aware, aware + timedelta(hours=77, minutes=3)) == "overdue by 5h 03m"


def test_exposure_summary_counts_one_set_however_it_is_spelt(
    session: Session, clock: FixedClock, subject_ids: list[int]
) -> None:
    from vigie.breach.models import IncidentExposure

    inc = incidents.open_incident(
        session, title="t", source="manual", aware_at=clock.now(), actor=ACTOR, clock=clock
    )
    spellings = (["email", "phone"], ["phone", "email"], ["email"])
    for sid, fields in zip(subject_ids, spellings, strict=False):
        session.add(
            IncidentExposure(
                incident_id=inc.id, subject_id=sid, fields=fields, recorded_at=clock.now()
            )
        )
    session.flush()
    summary = incidents.exposure_summary(session, incident_id=inc.id)
    assert summary.people == 3
    assert summary.by_field == {"email": 3, "phone": 2}
