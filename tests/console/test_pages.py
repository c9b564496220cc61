"""The overview, processors and audit pages show the store's figures; suspension from the
console is the CLI's suspension, with the operator as audit actor."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from tests.console.conftest import Client, Desk
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.breach.incidents import open_incident
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.processors.directory import get_processor

LIST = "/api/v1/subjects"


def _cells(html: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, re.S)
    ]


def _world(desk: Desk) -> str:
    w = desk.world
    contract = w.processor("formalang", per_day=40, per_30_days=900)
    w.processor("lingua")
    w.assign(contract, w.people(7))
    token = w.key("formalang")
    r = w.api().get(LIST, token=token, params={"limit": 3})
    assert r.status_code == 200, r.text
    return token


def _events(desk: Desk, action: Action) -> list[AuditEvent]:
    with desk.world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)))


def test_overview_shows_the_stores_figures(desk: Desk) -> None:
    _world(desk)
    w = desk.world
    formalang = w.processor_id("formalang")
    with w.sessions.begin() as s:
        open_incident(
            s,
            title="Dump on sale",
            source="manual",
            aware_at=w.now - timedelta(hours=30),
            actor="operator:test",
        )
        raise_alert(
            s,
            detector="volume",
            severity=Severity.LOW,
            processor_id=formalang,
            key_id=None,
            summary="More people than usual",
            evidence={"people": 3},
            now=w.now,
        )
    desk.operator("claire", "dpo", language="en")
    html = desk.sign_in("claire").get("/").text
    cells = _cells(html)
    start = next(i for i, c in enumerate(cells) if c.startswith("formalang"))
    assert cells[start + 1 : start + 7] == ["active", "7", "3", "40", "3", "900"], cells[start:]
    other = next(i for i, c in enumerate(cells) if c.startswith("lingua"))
    assert cells[other + 2 : other + 7] == ["0", "0", "1,000", "0", "10,000"]
    assert "Dump on sale" in html and "42 h 00 min left" in html
    assert "More people than usual" in html


def test_overview_counts_down_and_then_shows_overdue(desk: Desk) -> None:
    w = desk.world
    with w.sessions.begin() as s:
        open_incident(s, title="Late one", source="manual", aware_at=w.now, actor="operator:t")
    desk.operator("claire", "dpo", language="fr")
    client = desk.sign_in("claire")
    assert "reste 72 h 00 min" in client.get("/").text
    w.advance(timedelta(hours=73, minutes=5))
    client = desk.sign_in("claire")  # the session went idle meanwhile
    assert "en retard de 1 h 05 min" in client.get("/").text


def _suspend(client: Client, desk: Desk, reason: str) -> int:
    token = desk.csrf(client, "/processors/formalang")
    r = client.post("/processors/formalang/suspend", data={"csrf": token, "reason": reason})
    return r.status_code


def test_security_suspends_from_the_console_then_the_api_refuses_the_key(desk: Desk) -> None:
    key = _world(desk)
    desk.operator("sam", "security")
    client = desk.sign_in("sam")
    assert _suspend(client, desk, "Reads at night, far above the contract") == 303
    r = desk.world.api().get(LIST, token=key)
    assert r.status_code == 403, r.text
    [event] = _events(desk, Action.PROCESSOR_SUSPEND)
    assert event.actor == "operator:sam"
    assert json.loads(event.detail or "{}")["reason"] == "Reads at night, far above the contract"
    page = client.get("/processors/formalang").text
    assert "Reads at night, far above the contract" in page and "/reinstate" in page

    token = desk.csrf(client, "/processors/formalang")
    r = client.post(
        "/processors/formalang/reinstate", data={"csrf": token, "reason": "Explained, fixed"}
    )
    assert r.status_code == 303
    assert desk.world.api().get(LIST, token=key).status_code == 200
    [back] = _events(desk, Action.PROCESSOR_REINSTATE)
    assert back.actor == "operator:sam"


def test_suspension_needs_a_reason(desk: Desk) -> None:
    key = _world(desk)
    desk.operator("sam", "security", language="en")
    client = desk.sign_in("sam")
    token = desk.csrf(client, "/processors/formalang")
    r = client.post("/processors/formalang/suspend", data={"csrf": token, "reason": "   "})
    assert r.status_code == 400
    assert "a reason is required" in r.text and 'role="alert"' in r.text
    assert desk.world.api().get(LIST, token=key).status_code == 200
    assert _events(desk, Action.PROCESSOR_SUSPEND) == []


def test_processor_page_shows_contracts_fields_masks_and_keys(desk: Desk) -> None:
    w = desk.world
    w.processor("formalang", masks={"birth_date": "year"})
    w.key("formalang", note="batch server")
    desk.operator("audrey", "auditor", language="en")
    html = desk.sign_in("audrey").get("/processors/formalang").text
    cells = _cells(html)
    assert cells[cells.index("birth_date") : cells.index("birth_date") + 2] == [
        "birth_date",
        "year",
    ]
    assert "REF-formalang-main" in html and "batch server" in html and "vgk_" not in html


def test_unknown_processor_is_404(desk: Desk) -> None:
    desk.operator("audrey", "auditor")
    assert desk.sign_in("audrey").get("/processors/nobody").status_code == 404


def test_audit_page_lists_checkpoints(desk: Desk) -> None:
    desk.world.processor("formalang")
    desk.operator("audrey", "auditor", language="en")
    client = desk.sign_in("audrey")  # enrolment is an event; the console anchors it
    html = client.get("/audit").text
    assert "Signed checkpoints" in html
    assert re.search(r"<dt>Last signed checkpoint</dt>\s*<dd>#1, ", html)
    assert re.search(r"<code class=\"hash\">[0-9a-f]{64}</code>", html)


def test_a_change_that_cannot_be_audited_is_not_made(desk: Desk) -> None:
    from tests.audit.test_trail import _refuse_event_inserts

    _world(desk)
    desk.operator("sam", "security", language="en")
    client = desk.sign_in("sam")
    token = desk.csrf(client, "/processors/formalang")
    _refuse_event_inserts(desk.world.engine)
    r = client.post("/processors/formalang/suspend", data={"csrf": token, "reason": "x"})
    assert r.status_code == 503
    assert "could not be recorded in the audit trail, so nothing was done" in r.text
    with desk.world.sessions() as s:
        assert get_processor(s, name="formalang").suspended_at is None


def test_processor_page_charts_people_per_day_from_the_detection_windows(desk: Desk) -> None:
    from datetime import UTC, datetime

    from vigie.detection.models import ActivityWindow

    w = desk.world
    w.processor("formalang")
    pid = w.processor_id("formalang")
    today = w.now.date()
    with w.sessions.begin() as s:
        for back, people in ((0, 40), (1, 10), (29, 20), (30, 999)):  # 30 days ago: outside
            day = today - timedelta(days=back)
            s.add(
                ActivityWindow(
                    processor_id=pid, span="day", requests=people * 2, people=people,
                    start=datetime(day.year, day.month, day.day, tzinfo=UTC),
                )
            )  # fmt: skip
    desk.operator("audrey", "auditor", language="en")
    html = desk.sign_in("audrey").get("/processors/formalang").text
    bars = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', html)
    assert len(bars) == 30
    heights = [float(h) for _y, h in bars]
    assert heights[-1] == 160.0 and heights[-2] == 40.0 and heights[0] == 80.0
    assert sum(1 for h in heights if h) == 3
    assert "busiest day: 40" in html and "140 requests in all" in html
