"""Roles are enforced on the server, route by route, from the one declared table."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from tests.anchoring import sign
from tests.console.conftest import Desk
from tests.console.incident_world import make_incident
from vigie.audit.models import AuditEvent
from vigie.breach.authority import prepare_pack
from vigie.console.roles import GRANTS, Need, Role
from vigie.console.routes import OWN_SESSION, ROUTES
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.jobs.tasks import submit_audit_verification, submit_leak_analysis
from vigie.leaks.analyze import analyze
from vigie.leaks.vault import store_report

PARAMS = {
    "name": "formalang", "alert_id": "1", "key_id": "1", "incident_id": "1", "phase": "1",
    "fmt": "json", "job_id": "1", "verification_id": "2", "analysis_id": "1",
}  # fmt: skip
FORM = {
    "reason": "tried",
    "notify_people": "yes",
    "measure": "tried",
    "channel": "email",
    "incident": "1",
}
"""What every state-changing route is sent (each takes the fields it knows)."""
# Routes that take a file: what each role tries to send.
FILES = {"/leaks": {"dump": ("tried.csv", b"nom;prenom\nZorglub;Kestrel\n", "text/csv")}}
SIGN_IN = frozenset({Need.PUBLIC, *OWN_SESSION})


def _walk(routes: list[Any]) -> list[tuple[str, str]]:
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found += [(method, route.path) for method in sorted(route.methods)]
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            found += _walk(included.routes)
    return found


def _routes(desk: Desk) -> list[tuple[str, str]]:
    return _walk(desk.app.routes)


def test_every_route_is_declared_and_every_declaration_is_a_route(desk: Desk) -> None:
    routes = _routes(desk)
    assert set(routes) == set(ROUTES), "declare each console route in vigie.console.routes"
    assert len(routes) == len(set(routes))


def test_an_undeclared_route_is_refused_to_everyone(desk: Desk) -> None:
    desk.app.add_api_route("/undeclared", lambda: {"secret": 1}, methods=["GET"])
    desk.operator("alice", "dpo")
    assert desk.sign_in("alice").get("/undeclared").status_code == 403


def _events(desk: Desk) -> int:
    with desk.world.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _world(desk: Desk) -> None:
    """A processor, its key (#1), an alert (#1), an incident (#1, assessed, its authority
    pack's phase 1 prepared), a stored leak analysis (#1), a leak analysis job (#1) and a
    verification job (#2) for the routes' parameters; the trail anchored (the dossier and
    attribution need it)."""
    desk.world.processor("formalang")
    desk.world.key("formalang")
    pid = desk.world.processor_id("formalang")
    with desk.world.sessions.begin() as s:
        alert = raise_alert(
            s, detector="volume", severity=Severity.LOW, processor_id=pid, key_id=None,
            summary="test", evidence={}, now=desk.world.now,
        )  # fmt: skip
        assert str(alert.id) == PARAMS["alert_id"]
    incident_id = make_incident(desk.world)
    assert str(incident_id) == PARAMS["incident_id"]
    with desk.world.sessions.begin() as s:
        prepare_pack(
            s, desk.world.settings, incident_id=incident_id, actor="operator:test",
            audit_key=desk.world.secrets.verify_key,
        )  # fmt: skip
    w = desk.world
    dump = w.settings.data_dir / "tried.csv"
    dump.write_bytes(FILES["/leaks"]["dump"][1])
    sign(w.sessions, w.secrets)  # attribution needs an anchored trail
    with w.sessions.begin() as s:
        report = analyze(s, paths=[dump], secrets=w.secrets, settings=w.settings)
        assert str(store_report(s, report=report, secrets=w.secrets, settings=w.settings,
                                actor="operator:test")) == PARAMS["analysis_id"]  # fmt: skip
        assert str(submit_leak_analysis(s, paths=[dump], actor="operator:test").id) == "1"
        assert str(submit_audit_verification(s, actor="operator:test").id) == "2"
    sign(w.sessions, w.secrets)  # the authority pack and the dossier need it anchored


@pytest.mark.parametrize("role", list(Role))
def test_each_role_on_each_route(desk: Desk, role: Role) -> None:
    _world(desk)
    desk.operator("someone", role.value)
    client = desk.sign_in("someone")
    token = desk.csrf(client)
    tried = 0
    for (method, template), need in sorted(ROUTES.items(), key=lambda kv: kv[0][0]):
        if need in SIGN_IN:
            continue  # the sign-in steps and sign-out: tested in test_signin
        path = template.format(**PARAMS)
        if method == "POST":  # the trail kept anchored, as vigie serve's checkpoint timer does
            sign(desk.world.sessions, desk.world.secrets)
        before = _events(desk)
        form = {"csrf": token, **FORM}
        if method == "GET":
            r = client.get(path)
        else:
            r = client.post(path, data=form, files=FILES.get(template))
        allowed = role in GRANTS[need]
        if allowed:
            assert r.status_code in (200, 303), (method, path, r.status_code, r.text[:300])
        else:
            assert r.status_code == 403, (method, path, r.status_code)
            assert _events(desk) == before, f"{method} {path} changed something for {role}"
        tried += 1
    assert tried == len([n for n in ROUTES.values() if n not in SIGN_IN])


def test_the_auditor_changes_nothing_anywhere(desk: Desk) -> None:
    _world(desk)
    desk.operator("audrey", "auditor")
    client = desk.sign_in("audrey")
    token = desk.csrf(client)
    changing = [(m, p) for (m, p), need in ROUTES.items() if m != "GET" and need not in SIGN_IN]
    assert changing, "no state-changing route?"
    before = _events(desk)
    for method, template in changing:
        r = client.request(
            method, template.format(**PARAMS), data={"csrf": token, **FORM},
            files=FILES.get(template),
        )  # fmt: skip
        assert r.status_code == 403, (method, template)
    assert _events(desk) == before
    page = client.get("/processors/formalang").text
    assert "/suspend" not in page and "/reinstate" not in page  # no form offered either
    page = client.get("/incidents/1").text
    assert 'method="post" action="/incidents' not in page
