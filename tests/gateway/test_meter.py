"""The gateway's metrics: disclosures, people, budget use and refusals, by processor name."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY
from sqlalchemy import text

from tests.gateway.conftest import World
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.processors.status import suspend_processor

SUBJECTS = "/api/v1/subjects"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _name() -> str:
    return f"meter-{uuid.uuid4().hex[:8]}"  # metrics are per process: one name per test


def test_disclosures_people_and_budget_use_by_processor(world: World) -> None:
    name = _name()
    ids = world.people(6)
    world.assign(world.processor(name, per_day=10, per_30_days=100), ids[:5])
    token = world.key(name)
    api = world.api()
    p = Pseudonymiser(world.secrets, world.processor_id(name)).encode(ids[0])

    assert api.get(f"{SUBJECTS}/{p}", token=token).status_code == 200
    assert api.get(f"{SUBJECTS}/{p}", token=token).status_code == 200  # same person again
    assert api.get(f"{SUBJECTS}?limit=3", token=token).status_code == 200

    assert _value("vigie_gateway_disclosures_total", processor=name, kind="read") == 2
    assert _value("vigie_gateway_disclosures_total", processor=name, kind="list") == 1
    assert _value("vigie_gateway_people_disclosed_total", processor=name) == 5  # 1 + 1 + 3
    # distinct people counted today: the first read, then 2 new in the page of 3
    assert _value("vigie_gateway_distinct_people_total", processor=name) == 3
    assert _value("vigie_gateway_budget_used_ratio", processor=name) == 3 / 10
    sent = REGISTRY.get_sample_value(
        "vigie_http_requests_total",
        {"listener": "api", "route": "/api/v1/subjects/{pseudonym}", "method": "GET",
         "status": "200"},
    )  # fmt: skip
    assert sent is not None and sent >= 2


def test_refusals_by_processor_status_and_problem(world: World) -> None:
    name = _name()
    ids = world.people(2)
    world.assign(world.processor(name, per_day=1), ids)
    token = world.key(name)
    api = world.api()
    pseudonyms = Pseudonymiser(world.secrets, world.processor_id(name))
    before_401 = _value(
        "vigie_gateway_denials_total", processor="", status="401", problem="unauthenticated"
    )
    before_403 = _value(
        "vigie_gateway_denials_total", processor="", status="403", problem="forbidden"
    )

    assert api.get(f"{SUBJECTS}/{pseudonyms.encode(ids[0])}", token=token).status_code == 200
    assert api.get(f"{SUBJECTS}/{pseudonyms.encode(ids[1])}", token=token).status_code == 429
    assert api.get(f"{SUBJECTS}/{pseudonyms.encode(ids[0])}", token="vgk_x_y").status_code == 401
    with world.sessions.begin() as s:
        suspend_processor(s, name=name, reason="test", actor="operator:test")
    assert api.get(f"{SUBJECTS}/{pseudonyms.encode(ids[0])}", token=token).status_code == 403

    assert _value("vigie_gateway_denials_total", processor=name, status="429",
                  problem="budget-exceeded") == 1  # fmt: skip
    # a key refused before it is identified (unknown, revoked, suspended) has no processor
    assert (
        _value("vigie_gateway_denials_total", processor="", status="403", problem="forbidden")
        == before_403 + 1
    )
    assert (
        _value("vigie_gateway_denials_total", processor="", status="401", problem="unauthenticated")
        == before_401 + 1
    )
    assert _value("vigie_gateway_disclosures_total", processor=name, kind="read") == 1


def test_ready_on_the_gateway_checks_store_audit_and_secrets(world: World) -> None:
    api = world.api(client_ip="127.0.0.1")
    r = api.get("/ready")
    assert r.status_code == 200, r.text
    assert api.get("/health").json() == {"status": "ok"}
    metrics = api.get("/metrics")
    assert metrics.status_code == 200 and b"vigie_audit_append_seconds" in metrics.content
    assert world.api(client_ip="192.0.2.10").get("/metrics").status_code == 404
    with world.engine.begin() as conn:  # the trail's head row is gone: nothing can append
        conn.execute(text("DROP TABLE audit_head"))
    r = api.get("/ready")
    assert r.status_code == 503 and r.json()["failed"] == ["audit"]
