"""The alerts page: filters, evidence, and acknowledging (audited, by role)."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from tests.console.conftest import Desk
from vigie.audit.models import AuditEvent
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity


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
