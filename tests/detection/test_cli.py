"""`vigie alerts` and `vigie canary` through Typer's runner, on a real instance."""

from __future__ import annotations

import json

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from vigie.audit.models import AuditEvent
from vigie.audit.seals import reseal
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.fingerprint.canaries import contact_rows
from vigie.fingerprint.models import CanaryContact
from vigie.fingerprint.trips import webhook_token
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from ..anchoring import sign
from .conftest import World

runner = CliRunner()


def _invoke(settings: Settings, engine: Engine, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), obj=Instance(settings=settings, _engine=engine))
    return result.exit_code, result.output


def test_alerts_list(world: World, settings: Settings, engine: Engine) -> None:
    code, out = _invoke(settings, engine, "alerts", "list")
    assert code == 0 and "No alerts." in out
    with world.sessions.begin() as s:
        for severity in (Severity.LOW, Severity.HIGH):
            raise_alert(
                s,
                detector="volume",
                severity=severity,
                processor_id=world.processor_id,
                key_id=world.key_ids[0],
                summary=f"{severity} alert",
                evidence={"n": 1},
            )
    code, out = _invoke(settings, engine, "alerts", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["severity"], r["containment"]) for r in rows] == [
        ("high", "suspend_key"),
        ("low", "alert"),
    ]
    assert rows[0]["processor"] == "lingua-test"
    code, out = _invoke(settings, engine, "alerts", "list", "--severity", "high", "--json")
    assert code == 0 and [r["severity"] for r in json.loads(out)] == ["high"]
    code, out = _invoke(settings, engine, "alerts", "list")
    assert code == 0 and "high" in out and "low" in out
    code, out = _invoke(settings, engine, "alerts", "list", "--processor", "nobody")
    assert code == 1 and "no processor named 'nobody'" in out


def test_alerts_acknowledge(world: World, settings: Settings, engine: Engine) -> None:
    with world.sessions.begin() as s:
        alert = raise_alert(
            s,
            detector="volume",
            severity=Severity.LOW,
            processor_id=world.processor_id,
            key_id=world.key_ids[0],
            summary="low alert",
            evidence={"n": 1},
        )
        alert_id = alert.id
    code, out = _invoke(settings, engine, "alerts", "acknowledge", str(alert_id), "--note", "seen")
    assert code == 0 and f"Alert #{alert_id} acknowledged." in out
    code, out = _invoke(settings, engine, "alerts", "list", "--json")
    [row] = json.loads(out)
    assert row["acknowledged_by"].startswith("operator:") and row["acknowledged_at"]
    code, out = _invoke(settings, engine, "alerts", "acknowledge", str(alert_id))
    assert code == 1 and "already acknowledged" in out


def test_alerts_notify_needs_a_channel(world: World, settings: Settings, engine: Engine) -> None:
    code, out = _invoke(settings, engine, "alerts", "notify")
    assert code == 1 and "no channel configured" in out


def test_canary_trip(
    world: World, settings: Settings, engine: Engine, secrets: InstanceSecrets
) -> None:
    with world.sessions.begin() as s:
        canary = s.get(Subject, 100)
        assert canary is not None and canary.is_canary
        rows = contact_rows([100], [canary.email], [canary.phone])
        s.add_all(CanaryContact(subject_id=i, kind=k, value=v) for i, k, v in rows)
        s.flush()
        reseal(s, actor="operator:test")  # the contacts written directly, sealed as they are
    # The world was built with library calls: no checkpoint anchors its trail yet.
    code, out = _invoke(settings, engine, "canary", "trip", "--contact", "person100@mail.example")
    assert code == 1 and "UNANCHORED" in out and "no signed checkpoint at all" in out, out
    assert "attribution of the canary trip refused" in " ".join(out.split())
    sign(world.sessions, secrets)
    code, out = _invoke(
        settings, engine, "canary", "trip", "--contact", "person100@mail.example", "--json"
    )
    assert code == 0, out
    assert json.loads(out)["processors"] == ["lingua-test"]
    code, out = _invoke(settings, engine, "canary", "trip", "--contact", "who@mail.example")
    assert code == 1 and "no canary has this contact" in out
    code, out = _invoke(settings, engine, "canary", "webhook-secret")
    assert code == 0 and out.strip() == webhook_token(secrets)
    with world.sessions() as s:
        assert s.scalars(select(CanaryContact)).first() is not None


def test_alerts_escalate(world: World, settings: Settings, engine: Engine) -> None:
    with world.sessions.begin() as s:
        alert_id = raise_alert(
            s, detector="volume", severity=Severity.LOW, processor_id=world.processor_id,
            key_id=world.key_ids[0], summary="low alert", evidence={"n": 1},
        ).id  # fmt: skip
    code, out = _invoke(settings, engine, "alerts", "escalate", str(alert_id))
    assert code == 2 and "--reason" in out  # the reason is required
    code, out = _invoke(settings, engine, "alerts", "escalate", str(alert_id), "--reason", " ")
    assert code == 1 and "needs a reason" in out
    code, out = _invoke(
        settings, engine, "alerts", "escalate", str(alert_id), "--reason", "provider confirms"
    )
    assert code == 0 and f"Alert #{alert_id} escalated to incident " in out, out
    code, out = _invoke(settings, engine, "alerts", "list", "--json")
    [row] = json.loads(out)
    assert row["incident_id"] is not None
    with world.sessions() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert:escalate"))
    assert event.actor.startswith("operator:")
    assert json.loads(event.detail or "{}")["reason"] == "provider confirms"
    code, out = _invoke(settings, engine, "alerts", "escalate", str(alert_id), "--reason", "x")
    assert code == 1 and f"already attached to incident {row['incident_id']}" in out
