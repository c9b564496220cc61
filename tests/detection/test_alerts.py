"""raise_alert: containment by severity, audit event, incident; and listing alerts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from vigie.audit.models import AuditEvent
from vigie.breach.models import Incident, IncidentEvidence
from vigie.detection.alerts import list_alerts, raise_alert
from vigie.detection.findings import Severity
from vigie.detection.models import Alert
from vigie.errors import InvalidInput
from vigie.processors import status
from vigie.processors.models import ApiKey, Processor

from .conftest import World


def _raise(world: World, severity: Severity, **kw: object) -> int:
    args: dict[str, object] = {
        "detector": "volume",
        "severity": severity,
        "processor_id": world.processor_id,
        "key_id": world.key_ids[0],
        "summary": f"{severity} test",
        "evidence": {"people_today": 10},
        "now": world.now,
    }
    args.update(kw)
    with world.sessions.begin() as s:
        return raise_alert(s, **args).id  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("severity", "containment", "key_suspended", "processor_suspended"),
    [
        (Severity.LOW, "alert", False, False),
        (Severity.MEDIUM, "throttle", False, False),
        (Severity.HIGH, "suspend_key", True, False),
        (Severity.CRITICAL, "suspend_processor", False, True),
    ],
)
def test_containment_follows_severity(
    world: World,
    severity: Severity,
    containment: str,
    key_suspended: bool,
    processor_suspended: bool,
) -> None:
    fired = ("vigie_detection_alerts_total", {"detector": "volume", "severity": severity.value,
             "containment": containment})  # fmt: skip
    target = {"suspend_key": "key", "suspend_processor": "processor"}.get(containment, "none")
    suspended = ("vigie_detection_suspensions_total", {"target": target})
    before = [REGISTRY.get_sample_value(*m) or 0.0 for m in (fired, suspended)]
    alert_id = _raise(world, severity)
    after = [REGISTRY.get_sample_value(*m) or 0.0 for m in (fired, suspended)]
    assert after[0] == before[0] + 1
    assert after[1] == before[1] + (target != "none")
    with world.sessions() as s:
        (alert,) = list_alerts(s)
        key = s.get(ApiKey, world.key_ids[0])
        processor = s.get(Processor, world.processor_id)
        event = s.scalars(select(AuditEvent).where(AuditEvent.seq == alert.audit_seq)).one()
    assert alert.id == alert_id and alert.containment == containment
    assert key is not None and processor is not None
    assert (key.suspended_at is not None) is key_suspended
    assert (processor.suspended_at is not None) is processor_suspended
    assert event.action == "alert:raise"
    # Medium and above open an incident; low opens none.
    assert (alert.incident_id is None) is (severity is Severity.LOW)


def test_high_escalates_when_another_key_was_just_used(world: World) -> None:
    from vigie.detection import state

    with world.sessions.begin() as s:
        state.record(s, world.access([1], key_id=world.key_ids[1]))
    _raise(world, Severity.HIGH)
    with world.sessions() as s:
        processor = s.get(Processor, world.processor_id)
    assert processor is not None and processor.suspended_at is not None


def test_a_second_key_suspension_in_a_day_suspends_the_processor(world: World) -> None:
    _raise(world, Severity.HIGH)
    world.tick(timedelta(hours=3))
    second = _raise(world, Severity.HIGH, key_id=world.key_ids[1])
    with world.sessions() as s:
        (latest, _first) = list_alerts(s)
    assert latest.id == second and latest.containment == "suspend_processor"


def test_alerts_join_the_open_incident(world: World) -> None:
    _raise(world, Severity.MEDIUM)
    _raise(world, Severity.LOW, detector="rare-hour")
    with world.sessions() as s:
        incident = s.scalars(select(Incident)).one()
        evidence = list(s.scalars(select(IncidentEvidence)))
    assert len(evidence) == 2 and {e.incident_id for e in evidence} == {incident.id}


def test_suspension_is_lifted_only_with_a_reason(world: World) -> None:
    _raise(world, Severity.CRITICAL)
    with world.sessions.begin() as s, pytest.raises(InvalidInput, match="reason"):
        status.reinstate_processor(s, name="lingua-test", reason=" ", actor="operator:dpo")
    with world.sessions.begin() as s:
        status.reinstate_processor(
            s, name="lingua-test", reason="key rotated after review", actor="operator:dpo"
        )
    with world.sessions() as s:
        processor = s.get(Processor, world.processor_id)
    assert processor is not None and processor.suspended_at is None


def test_list_filters(world: World) -> None:
    _raise(world, Severity.LOW)
    _raise(world, Severity.MEDIUM)
    with world.sessions() as s:
        assert [a.severity for a in list_alerts(s, min_severity=Severity.MEDIUM)] == ["medium"]
        assert len(list_alerts(s, processor_id=world.processor_id)) == 2
        assert list_alerts(s, since=world.now + timedelta(seconds=1)) == []


def test_an_alert_needs_a_summary(world: World) -> None:
    with pytest.raises(InvalidInput):
        _raise(world, Severity.LOW, summary="  ")


def test_acknowledging_an_alert_is_audited_once_and_keeps_containment(world: World) -> None:
    from vigie.detection.alerts import acknowledge_alert
    from vigie.errors import NotFound

    alert_id = _raise(world, Severity.HIGH)
    with world.sessions.begin() as s:
        acknowledge_alert(s, alert_id=alert_id, actor="operator:claire", note="  called  them ")
    with world.sessions() as s:
        alert = s.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_by == "operator:claire"
        assert alert.acknowledged_at is not None
        key = s.get(ApiKey, world.key_ids[0])
        assert key is not None and key.suspended_at is not None  # still contained
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert:acknowledge"))
        assert event.actor == "operator:claire" and event.processor_id == world.processor_id
        assert json.loads(event.detail or "{}") == {"alert_id": alert_id, "note": "called them"}
    with world.sessions.begin() as s, pytest.raises(InvalidInput, match="already"):
        acknowledge_alert(s, alert_id=alert_id, actor="operator:sam")
    with world.sessions.begin() as s, pytest.raises(NotFound):
        acknowledge_alert(s, alert_id=9999, actor="operator:sam")
    with world.sessions.begin() as s, pytest.raises(InvalidInput, match="longer"):
        acknowledge_alert(s, alert_id=_raise(world, Severity.LOW), actor="op", note="x" * 501)


def test_escalating_a_low_alert_opens_an_incident_by_hand(world: World) -> None:
    from vigie.detection.alerts import escalate_alert

    alert_id = _raise(world, Severity.LOW)
    later = world.now + timedelta(hours=5)
    with world.sessions.begin() as s:
        alert = escalate_alert(
            s, alert_id=alert_id, actor="operator:claire", reason=" looks  real ", now=later
        )
        incident_id = alert.incident_id
    assert incident_id is not None
    with world.sessions() as s:
        incident = s.get(Incident, incident_id)
        assert incident is not None and incident.source == "alert"
        assert incident.processor_id == world.processor_id
        # The operator's judgement is the awareness: the 72-hour clock starts then.
        assert incident.aware_at == later
        [evidence] = s.scalars(select(IncidentEvidence))
        assert evidence.ref == f"alert:{alert_id}" and evidence.actor == "operator:claire"
        assert evidence.detail["reason"] == "looks real"
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert:escalate"))
        assert event.actor == "operator:claire" and event.processor_id == world.processor_id
        assert json.loads(event.detail or "{}") == {"alert_id": alert_id, "reason": "looks real"}
        opened = s.scalars(select(AuditEvent).where(AuditEvent.action == "incident:open")).one()
        assert opened.actor == "operator:claire"
        stored = s.get(Alert, alert_id)
        assert stored is not None and stored.incident_id == incident_id


def test_escalating_joins_the_processors_open_incident(world: World) -> None:
    from vigie.detection.alerts import escalate_alert

    low = _raise(world, Severity.LOW)  # no incident open yet: it stays alone
    _raise(world, Severity.MEDIUM)  # opens an incident on its own
    orphan = _raise(world, Severity.LOW, processor_id=None, key_id=None)
    with world.sessions() as s:
        incident = s.scalars(select(Incident)).one()
        assert s.scalar(select(Alert.incident_id).where(Alert.id == low)) is None
    with world.sessions.begin() as s:
        joined = escalate_alert(s, alert_id=low, actor="operator:claire", reason="same wave")
        assert joined.incident_id == incident.id
        # An alert naming no processor opens an incident of its own.
        alone = escalate_alert(s, alert_id=orphan, actor="operator:claire", reason="odd")
        assert alone.incident_id not in (None, incident.id)
    with world.sessions() as s:
        refs = set(s.scalars(select(IncidentEvidence.ref).where(
            IncidentEvidence.incident_id == incident.id)))  # fmt: skip
    assert f"alert:{low}" in refs


def test_escalating_is_refused_without_reason_twice_or_for_nothing(world: World) -> None:
    from vigie.detection.alerts import escalate_alert
    from vigie.errors import NotFound

    medium = _raise(world, Severity.MEDIUM)
    low = _raise(world, Severity.LOW, processor_id=None, key_id=None)
    with world.sessions.begin() as s, pytest.raises(InvalidInput, match="reason"):
        escalate_alert(s, alert_id=low, actor="operator:claire", reason="  ")
    with world.sessions.begin() as s, pytest.raises(InvalidInput, match="longer"):
        escalate_alert(s, alert_id=low, actor="operator:claire", reason="x" * 501)
    with world.sessions.begin() as s, pytest.raises(NotFound):
        escalate_alert(s, alert_id=9999, actor="operator:claire", reason="r")
    with world.sessions() as s:
        already = s.scalar(select(Alert.incident_id).where(Alert.id == medium))
    with world.sessions.begin() as s, pytest.raises(InvalidInput, match=f"incident {already}"):
        escalate_alert(s, alert_id=medium, actor="operator:claire", reason="again")
    with world.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        assert not list(s.scalars(select(AuditEvent).where(AuditEvent.action == "alert:escalate")))


def test_escalating_fails_closed_when_the_trail_refuses(world: World) -> None:
    from vigie.detection.alerts import escalate_alert
    from vigie.errors import AuditFailure

    low = _raise(world, Severity.LOW)
    with world.sessions.begin() as s, pytest.raises(AuditFailure, match="actor"):
        escalate_alert(s, alert_id=low, actor="mallory", reason="not an operator")
    with world.sessions() as s:
        assert s.scalar(select(Alert.incident_id).where(Alert.id == low)) is None
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
