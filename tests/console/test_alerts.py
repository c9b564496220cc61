"""The alerts page: filters, evidence, and acknowledging (audited, by role)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from tests.console.conftest import Desk
from vigie.audit.models import AuditEvent
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.detection.models import Alert


def _alerts(desk: Desk) -> tuple[int, int]:
    w = desk.world
    w.processor("formalang")
    w.processor("lingua")
    ids = {name: w.processor_id(name) for name in ("formalang", "lingua")}
    with w.sessions.begin() as s:
        low = raise_alert(
            s, detector="volume", severity=Severity.LOW, processor_id=ids["formalang"],
            key_id=None, summary="<b>bold</b> volume", evidence={"people": 12}, now=w.now,
        )  # fmt: skip
        high = raise_alert(
            s, detector="sweep", severity=Severity.HIGH, processor_id=ids["lingua"],
            key_id=None, summary="Cursor walk", evidence={"pages": 40}, now=w.now,
        )  # fmt: skip
        return low.id, high.id


def test_alerts_list_filters_and_shows_evidence(desk: Desk) -> None:
    low, high = _alerts(desk)
    desk.operator("audrey", "auditor", language="en")
    client = desk.sign_in("audrey")
    html = client.get("/alerts").text
    assert f'id="alert-{low}"' in html and f'id="alert-{high}"' in html
    assert "&lt;b&gt;bold&lt;/b&gt; volume" in html and "{&#34;pages&#34;: 40}" in html
    assert "/acknowledge" not in html  # the auditor is offered nothing to do
    html = client.get("/alerts", params={"severity": "high"}).text
    assert f'id="alert-{high}"' in html and f'id="alert-{low}"' not in html
    html = client.get("/alerts", params={"processor": "formalang"}).text
    assert f'id="alert-{low}"' in html and f'id="alert-{high}"' not in html
    assert client.get("/alerts", params={"processor": "nobody"}).status_code == 404


def test_security_acknowledges_an_alert(desk: Desk) -> None:
    low, _high = _alerts(desk)
    desk.operator("sam", "security", language="en")
    client = desk.sign_in("sam")
    token = desk.csrf(client, "/alerts")
    r = client.post(f"/alerts/{low}/acknowledge", data={"csrf": token, "note": "Called them"})
    assert r.status_code == 303
    html = client.get("/alerts").text
    block = html[html.index(f'id="alert-{low}"') :]
    assert re.search(r"<dt>Acknowledged</dt><dd><bdi>[^<]+ — operator:sam</bdi>", block)
    with desk.world.sessions() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert:acknowledge"))
    assert event.actor == "operator:sam"
    assert json.loads(event.detail or "{}") == {"alert_id": low, "note": "Called them"}
    again = client.post(f"/alerts/{low}/acknowledge", data={"csrf": token})
    assert again.status_code == 400


def test_security_escalates_a_low_alert_to_an_incident(desk: Desk) -> None:
    low, high = _alerts(desk)
    desk.operator("sam", "security", language="en")
    client = desk.sign_in("sam")
    html = client.get("/alerts").text
    # The high alert opened its incident on its own: its link, and no button.
    with desk.world.sessions() as s:
        opened = s.scalar(select(Alert.incident_id).where(Alert.id == high))
    assert opened is not None
    assert f'<a href="/incidents/{opened}">' in html
    assert f'action="/alerts/{high}/escalate"' not in html
    assert f'action="/alerts/{low}/escalate"' in html
    token = desk.csrf(client, "/alerts")
    refused = client.post(f"/alerts/{low}/escalate", data={"csrf": token, "reason": " "})
    assert refused.status_code == 400 and "needs a reason" in refused.text
    r = client.post(f"/alerts/{low}/escalate", data={"csrf": token, "reason": "Provider confirms"})
    assert r.status_code == 303 and r.headers["location"] == f"/alerts#alert-{low}"
    with desk.world.sessions() as s:
        incident = s.scalar(select(Alert.incident_id).where(Alert.id == low))
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "alert:escalate"))
    assert incident is not None and incident != opened
    assert event.actor == "operator:sam"
    assert json.loads(event.detail or "{}") == {"alert_id": low, "reason": "Provider confirms"}
    html = client.get("/alerts").text
    assert f'<a href="/incidents/{incident}">' in html
    assert f'action="/alerts/{low}/escalate"' not in html
    again = client.post(f"/alerts/{low}/escalate", data={"csrf": token, "reason": "twice"})
    assert again.status_code == 400 and f"already attached to incident {incident}" in again.text
    unknown = client.post("/alerts/9999/escalate", data={"csrf": token, "reason": "r"})
    assert unknown.status_code == 404


def test_an_auditor_cannot_escalate(desk: Desk) -> None:
    low, _high = _alerts(desk)
    desk.operator("audrey", "auditor", language="en")
    client = desk.sign_in("audrey")
    assert "/escalate" not in client.get("/alerts").text
    token = desk.csrf(client, "/alerts")
    r = client.post(f"/alerts/{low}/escalate", data={"csrf": token, "reason": "no right"})
    assert r.status_code == 403
    with desk.world.sessions() as s:
        assert s.scalar(select(Alert.incident_id).where(Alert.id == low)) is None


def test_escalating_needs_the_anti_forgery_token(desk: Desk) -> None:
    low, _high = _alerts(desk)
    desk.operator("dora", "dpo", language="en")
    client = desk.sign_in("dora")
    r = client.post(f"/alerts/{low}/escalate", data={"reason": "forged"})
    assert r.status_code == 403
    with desk.world.sessions() as s:
        assert s.scalar(select(Alert.incident_id).where(Alert.id == low)) is None
