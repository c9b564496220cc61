"""Incidents in the console: list, page, override, measures, pack, campaign, register,
language — each the breach package's own path, with the operator as audit actor."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from tests.console.conftest import Desk, csrf_of
from tests.console.incident_world import make_incident
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.breach.incidents import exposures_of, get_incident, open_incident, timeline
from vigie.breach.models import AuthorityNotification, NoticeDelivery
from vigie.jobs.authority import AUTHORITY_PACK
from vigie.jobs.kinds import KINDS
from vigie.jobs.models import Job
from vigie.jobs.notices import NOTIFY
from vigie.jobs.worker import Worker


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _decisions(desk: Desk, incident_id: int) -> list[tuple[str, str]]:
    with desk.world.sessions() as s:
        return [(e.kind, e.actor) for e in timeline(s, incident_id=incident_id)]


def test_list_shows_each_incident_with_its_clock(desk: Desk) -> None:
    first = make_incident(desk.world, aware_hours_ago=30)
    second = make_incident(desk.world, aware_hours_ago=80, title="Older one", people=2)
    desk.operator("audrey", "auditor")
    page = desk.sign_in("audrey").get("/incidents")
    assert page.status_code == 200
    text = _text(page.text)
    assert f"/incidents/{first}" in page.text and f"/incidents/{second}" in page.text
    assert "42 h 00 min left" in text  # 72 h - 30 h
    assert "overdue by 8 h 00 min" in text  # 72 h - 80 h


def test_incident_page_shows_clock_phases_risk_and_timeline(desk: Desk) -> None:
    incident_id = make_incident(desk.world, people=6)
    desk.operator("audrey", "auditor")
    page = desk.sign_in("audrey").get(f"/incidents/{incident_id}")
    assert page.status_code == 200, page.text
    text = _text(page.text)
    assert "42 h 00 min left" in text
    assert "People exposed : 6" in text or "People exposed: 6" in text
    assert "risk assessed" in text and "authority pack prepared" in text
    assert "Not assessed yet" not in text
    for factor in ("given_name", "nationality"):
        assert factor in text
    assert "high" in text
    # The auditor reads; no form is offered.
    for action in ("/overrule", "/measures", '/authority-pack"', "/notices", "/publish"):
        assert action not in page.text


def test_the_dpo_overrules_with_a_reason_as_themselves(desk: Desk) -> None:
    incident_id = make_incident(desk.world)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    token = desk.csrf(client, f"/incidents/{incident_id}")
    path = f"/incidents/{incident_id}/overrule"
    refused = client.post(path, data={"csrf": token, "notify_people": "no", "reason": "  "})
    assert refused.status_code == 400
    assert "needs a reason" in refused.text
    assert ("risk_override", "operator:dora") not in _decisions(desk, incident_id)
    r = client.post(
        path, data={"csrf": token, "notify_people": "no", "reason": "Data already public"}
    )
    assert r.status_code == 303
    assert ("risk_override", "operator:dora") in _decisions(desk, incident_id)
    with desk.world.sessions() as s:
        risk = get_incident(s, incident_id=incident_id).risk
    assert risk is not None and risk["override"]["reason"] == "Data already public"
    assert risk["notify_people"] is False
    page = client.get(f"/incidents/{incident_id}")
    assert "Data already public" in page.text


def test_security_records_containment_but_not_decisions(desk: Desk) -> None:
    incident_id = make_incident(desk.world)
    desk.operator("sam", "security")
    client = desk.sign_in("sam")
    page = client.get(f"/incidents/{incident_id}").text
    assert "/measures" in page and "/overrule" not in page and "/notices" not in page
    token = csrf_of(page)
    r = client.post(
        f"/incidents/{incident_id}/measures",
        data={"csrf": token, "measure": "All keys of lingua revoked"},
    )
    assert r.status_code == 303
    assert ("measure", "operator:sam") in _decisions(desk, incident_id)
    denied = client.post(
        f"/incidents/{incident_id}/overrule",
        data={"csrf": token, "notify_people": "no", "reason": "no"},
    )
    assert denied.status_code == 403


@pytest.fixture
def worker(desk: Desk) -> Iterator[Worker]:
    w = desk.world
    worker = Worker(settings=w.settings, secrets=w.secrets, engine=w.engine, kinds=dict(KINDS))
    yield worker
    worker.close()


def test_authority_pack_prepared_as_a_job_previewed_and_downloaded(
    desk: Desk, worker: Worker
) -> None:
    incident_id = make_incident(desk.world, people=4)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    page = f"/incidents/{incident_id}"
    token = desk.csrf(client, page)
    r = client.post(f"{page}/authority-pack", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == f"{page}#authority", r.text
    # Queued, not prepared in the request: the section polls itself, the form is gone.
    waiting = client.get(page).text
    assert "No pack prepared yet." in waiting and "waiting for a worker" in waiting
    assert f'hx-get="{page}?part=authority"' in waiting
    assert f'action="/incidents/{incident_id}/authority-pack"' not in waiting
    again = client.post(f"{page}/authority-pack", data={"csrf": token})
    assert again.status_code == 409 and "already queued" in again.text
    with desk.world.sessions() as s:
        [job] = s.scalars(select(Job).where(Job.kind == AUTHORITY_PACK))
    assert job.actor == "operator:dora" and job.params["incident_id"] == incident_id
    assert worker.run(once=True) == 1
    part = client.get(page, params={"part": "authority"}, headers={"HX-Request": "true"})
    assert part.text.lstrip().startswith('<section id="authority"') and "<html" not in part.text
    assert "hx-trigger" not in part.text  # done: polling stops
    assert "Personal data breach notification" in part.text  # the preview
    assert f"{page}/authority-pack/1.pdf" in part.text
    assert ("authority_pack", "operator:dora") in _decisions(desk, incident_id)
    got = client.get(f"{page}/authority-pack/1.json")
    assert got.status_code == 200
    assert "attachment" in got.headers["content-disposition"]
    content = json.loads(got.text)
    assert content["people"]["approximate_number"] == 4
    assert content["phase"]["number"] == 1
    md = client.get(f"{page}/authority-pack/1.md")
    assert md.status_code == 200 and md.text.startswith("# Personal data breach")
    assert client.get(f"{page}/authority-pack/2.json").status_code == 404
    assert client.get(f"{page}/authority-pack/1.exe").status_code == 404


def test_the_evidence_gate_refuses_the_pack_and_says_why(desk: Desk, worker: Worker) -> None:
    incident_id = make_incident(desk.world)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    token = desk.csrf(client, f"/incidents/{incident_id}")
    with desk.world.sessions.begin() as s:  # tamper with the trail behind the chain's back
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).first()
        assert event is not None
        event.actor = "operator:someone-else"
    r = client.post(f"/incidents/{incident_id}/authority-pack", data={"csrf": token})
    assert r.status_code == 303
    assert worker.run(once=True) == 1
    page = client.get(f"/incidents/{incident_id}").text
    assert "The authority pack was refused: the audit trail does not verify" in page
    assert "No pack prepared yet." in page
    with desk.world.sessions() as s:
        assert s.scalars(select(AuthorityNotification)).first() is None


def test_the_notice_campaign_is_queued_as_a_job_of_the_dpo(desk: Desk) -> None:
    incident_id = make_incident(desk.world)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    token = desk.csrf(client, f"/incidents/{incident_id}")
    r = client.post(f"/incidents/{incident_id}/notices", data={"csrf": token, "channel": "sms"})
    assert r.status_code == 303, r.text
    with desk.world.sessions() as s:
        job = s.scalars(select(Job).where(Job.kind == NOTIFY)).one()
    assert job.actor == "operator:dora"
    assert job.params == {"incident_id": incident_id, "channel": "sms"}
    assert ("notify_queued", "operator:dora") in _decisions(desk, incident_id)
    page = client.get(f"/incidents/{incident_id}")
    assert f"Campaign job {job.id}: queued" in _text(page.text)
    assert 'hx-trigger="every 5s"' in page.text  # the page follows the running campaign
    part = client.get(f"/incidents/{incident_id}?part=campaign")  # what htmx fetches
    assert part.status_code == 200
    assert part.text.lstrip().startswith('<section id="campaign"')
    assert f"Campaign job {job.id}: queued" in _text(part.text) and "<html" not in part.text
    clock = client.get(f"/incidents/{incident_id}?part=clock")
    assert clock.text.lstrip().startswith('<dd id="clock"') and "42 h 00 min" in clock.text
    assert client.get(f"/incidents/{incident_id}?part=timeline").status_code == 404
    again = client.post(f"/incidents/{incident_id}/notices", data={"csrf": token})
    assert again.status_code == 409 and "already queued" in again.text


def test_no_campaign_when_the_assessment_does_not_call_for_notices(desk: Desk) -> None:
    incident_id = make_incident(desk.world, assess=False)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    token = desk.csrf(client, f"/incidents/{incident_id}")
    r = client.post(f"/incidents/{incident_id}/notices", data={"csrf": token})
    assert r.status_code == 409 and "no risk assessment" in r.text
    with desk.world.sessions() as s:
        assert s.scalars(select(Job)).first() is None


def test_campaign_progress_by_channel_and_language(desk: Desk) -> None:
    incident_id = make_incident(desk.world, people=3)
    w = desk.world
    with w.sessions.begin() as s:
        people = sorted(exposures_of(s, incident_id=incident_id))
        for sid, status, lang in zip(
            people, ("sent", "bounced", "no_contact"), ("fr", "uk", "fr+en"), strict=True
        ):
            s.add(
                NoticeDelivery(
                    incident_id=incident_id, subject_id=sid, channel="email", status=status,
                    language=lang, attempts=1, attempt_at=w.now,
                )
            )  # fmt: skip
    desk.operator("audrey", "auditor")
    page = desk.sign_in("audrey").get(f"/incidents/{incident_id}")
    text = _text(page.text)
    assert "Bounced: 1" in text
    assert "People no notice reached: 2" in text
    assert "CIR" in text  # the unreachable are listed by file number


def test_publish_and_withdraw_the_public_page(desk: Desk) -> None:
    incident_id = make_incident(desk.world)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    token = desk.csrf(client, f"/incidents/{incident_id}")
    assert client.post(f"/incidents/{incident_id}/publish", data={"csrf": token}).status_code == 303
    assert "is on the public service" in client.get(f"/incidents/{incident_id}").text
    assert (
        client.post(f"/incidents/{incident_id}/withdraw", data={"csrf": token}).status_code == 303
    )
    assert "is not on the public service" in client.get(f"/incidents/{incident_id}").text
    kinds = _decisions(desk, incident_id)
    assert ("public_page", "operator:dora") in kinds
    assert ("public_page_withdrawn", "operator:dora") in kinds


def test_register_page_and_csv(desk: Desk) -> None:
    incident_id = make_incident(desk.world, title='=HYPERLINK("x") dump')
    desk.operator("audrey", "auditor")
    client = desk.sign_in("audrey")
    page = client.get("/register")
    assert page.status_code == 200
    assert f"/incidents/{incident_id}" in page.text
    got = client.get("/register.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert len(rows) == 1
    assert rows[0]["incident_id"] == str(incident_id)
    assert rows[0]["title"].startswith("'=")  # no formula in a spreadsheet
    assert rows[0]["people_affected"] == "6"


def test_language_is_the_operators_own_and_changes_from_the_page(desk: Desk) -> None:
    make_incident(desk.world)
    desk.operator("audrey", "auditor", language="en")
    client = desk.sign_in("audrey")
    page = client.get("/incidents")
    assert 'lang="en"' in page.text and "Incidents" in page.text
    token = csrf_of(page.text)
    r = client.post(
        "/preferences/language", data={"csrf": token, "language": "fr", "back": "/incidents"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/incidents"
    page = client.get("/incidents")
    assert '<html lang="fr">' in page.text
    assert "Sous-traitant" in page.text and "42 h 00 min" in page.text
    with desk.world.sessions() as s:
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.OPERATOR_LANGUAGE.value)
        ).one()
    assert event.actor == "operator:audrey"
    assert json.loads(event.detail or "{}") == {"login": "audrey", "language": "fr"}
    bad = client.post("/preferences/language", data={"csrf": token, "language": "de"})
    assert bad.status_code == 400
    away = client.post(
        "/preferences/language",
        data={"csrf": token, "language": "en", "back": "//evil.example/"},
    )
    assert away.headers["location"] == "/"


def test_the_dpo_assesses_the_risk_from_the_page(desk: Desk) -> None:
    incident_id = make_incident(desk.world, assess=False)
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    page = client.get(f"/incidents/{incident_id}")
    assert "Not assessed yet." in page.text
    token = csrf_of(page.text)
    r = client.post(
        f"/incidents/{incident_id}/assess",
        data={"csrf": token, "malicious": "yes", "recipients": "unknown"},
    )
    assert r.status_code == 303, r.text
    assert ("risk", "operator:dora") in _decisions(desk, incident_id)
    with desk.world.sessions() as s:
        risk = get_incident(s, incident_id=incident_id).risk
    assert risk is not None and risk["level"] == "high" and risk["notify_people"] is True
    assert any("unknown number of unknown recipients" in f["reason"] for f in risk["factors"])
    bad = client.post(
        f"/incidents/{incident_id}/assess", data={"csrf": token, "recipients": "aliens"}
    )
    assert bad.status_code == 400


def test_assessing_without_a_declared_population_is_refused_and_said(desk: Desk) -> None:
    w = desk.world
    with w.sessions.begin() as s:
        incident_id = open_incident(
            s, title="No context", source="manual", aware_at=w.now, actor="operator:test"
        ).id
    desk.operator("dora", "dpo")
    client = desk.sign_in("dora")
    token = desk.csrf(client, f"/incidents/{incident_id}")
    r = client.post(f"/incidents/{incident_id}/assess", data={"csrf": token})
    assert r.status_code == 409
    assert "population" in _text(r.text)
    assert ("risk", "operator:dora") not in _decisions(desk, incident_id)
