"""The processor API end to end: keys, scope, fields, masks, errors, audit, write-back."""

from __future__ import annotations

from datetime import date, timedelta

import orjson
from sqlalchemy import event, select

from tests.gateway.conftest import World, subject_values
from vigie.audit.models import AuditEvent
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.models import SubjectEvent
from vigie.gateway.problems import NOT_FOUND_DETAIL, PROBLEM_JSON
from vigie.processors.keys import revoke_key
from vigie.processors.models import ApiKey, Contract
from vigie.processors.status import suspend_key, suspend_processor

SUBJECTS = "/api/v1/subjects"


def _setup(world: World, **contract: object) -> tuple[list[int], str]:
    ids = world.people(6)
    cid = world.processor("lingua", **contract)  # type: ignore[arg-type]
    world.assign(cid, ids[:4])
    return ids, world.key("lingua")


def _pseudonym(world: World, name: str, subject_id: int) -> str:
    return Pseudonymiser(world.secrets, world.processor_id(name)).encode(subject_id)


def _events(world: World, action: str) -> list[AuditEvent]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_read_one_person_shows_only_contract_fields_masked(world: World) -> None:
    ids, token = _setup(
        world,
        read_fields=["pseudonym", "given_name", "birth_date", "postal_code", "email"],
        masks={"birth_date": "year", "postal_code": "department", "email": "domain"},
    )
    api = world.api()
    p = _pseudonym(world, "lingua", ids[1])
    r = api.get(f"{SUBJECTS}/{p}", token=token)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"pseudonym", "given_name", "birth_date", "postal_code", "email"}
    assert body["pseudonym"] == p
    person = subject_values(ids[1])
    assert body["given_name"] == person["given_name"]
    assert body["birth_date"] == person["birth_date"].year
    assert body["postal_code"] == person["postal_code"][:2]
    assert body["email"] == "mail.example"
    assert r.headers["x-budget-remaining-today"] == "999"
    [event] = _events(world, "subject:read")
    assert event.processor_id == world.processor_id("lingua")
    assert event.origin == "192.0.2.10"
    assert event.purpose == "language-training"


def test_unknown_and_out_of_scope_answer_identically(world: World) -> None:
    ids, token = _setup(world)
    api = world.api()
    out_of_scope = api.get(f"{SUBJECTS}/{_pseudonym(world, 'lingua', ids[5])}", token=token)
    unknown = api.get(f"{SUBJECTS}/{_pseudonym(world, 'lingua', 999_999)}", token=token)
    other = api.get(f"{SUBJECTS}/{Pseudonymiser(world.secrets, 99).encode(ids[0])}", token=token)
    for r in (out_of_scope, unknown, other):
        assert r.status_code == 404
        assert r.headers["content-type"] == PROBLEM_JSON
        body = r.json()
        assert body["detail"] == NOT_FOUND_DETAIL
        assert body["type"].endswith("/not-found")
        assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert len(_events(world, "access:denied")) == 3
    assert _events(world, "subject:read") == []


def _spellings(pseudonym: str) -> list[str]:
    """Other spellings of ``pseudonym`` that a lax base32 decoder reads as the same bytes."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    last = alphabet.index(pseudonym[-1])
    return [pseudonym.upper(), pseudonym[:-1] + alphabet[last | 3], pseudonym[:-1] + "1"]


def test_a_pseudonym_has_one_spelling_and_others_reveal_nothing(world: World) -> None:
    ids, token = _setup(world)
    api = world.api()
    in_scope = _pseudonym(world, "lingua", ids[0])
    out_of_scope = _pseudonym(world, "lingua", ids[5])
    answers = []
    for spelling in [
        *_spellings(in_scope),
        *_spellings(out_of_scope),
        "not-a-pseudonym",
        in_scope + "a",
    ]:
        for method, url, body in (
            ("GET", f"{SUBJECTS}/{spelling}", None),
            ("POST", f"{SUBJECTS}/{spelling}/events", {"attendance_hours": 1}),
        ):
            r = api.request(method, url, token=token, json=body)
            assert r.status_code == 400, (spelling, r.text)
            assert r.headers["content-type"] == PROBLEM_JSON
            problem = {k: v for k, v in r.json().items() if k != "instance"}  # the path sent
            assert spelling not in str(problem) and in_scope not in str(problem)
            answers.append(problem)
    assert all(a == answers[0] for a in answers)  # in scope or not: the same answer
    assert answers[0]["type"].endswith("/malformed-pseudonym")
    assert "26 characters" in answers[0]["detail"]
    denied = _events(world, "access:denied")
    assert len(denied) == len(answers)
    assert {orjson.loads(e.detail or "{}")["problem"] for e in denied} == {"malformed-pseudonym"}
    assert _events(world, "subject:read") == [] and _events(world, "subject:write") == []
    # The canonical spelling still works, and is what the answer holds.
    r = api.get(f"{SUBJECTS}/{in_scope}", token=token)
    assert r.status_code == 200 and r.json()["pseudonym"] == in_scope


def test_a_malformed_pseudonym_still_asks_for_a_key(world: World) -> None:
    _setup(world)
    r = world.api().get(f"{SUBJECTS}/NOT-A-PSEUDONYM")
    assert r.status_code == 401


def test_key_problems(world: World) -> None:
    ids, token = _setup(world)
    api = world.api()
    p = _pseudonym(world, "lingua", ids[0])
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = api.get(f"{SUBJECTS}/{p}", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.headers["content-type"] == PROBLEM_JSON
    bad = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api.get(f"{SUBJECTS}/{p}", token=bad).status_code == 401

    narrow = world.key("lingua", allowed_cidrs=["198.51.100.0/24"])
    assert api.get(f"{SUBJECTS}/{p}", token=narrow).status_code == 403
    assert (
        world.api(client_ip="198.51.100.7").get(f"{SUBJECTS}/{p}", token=narrow).status_code == 200
    )

    short = world.key("lingua", expires_in=timedelta(minutes=5))
    assert api.get(f"{SUBJECTS}/{p}", token=short).status_code == 200
    world.advance(timedelta(minutes=6))
    r = api.get(f"{SUBJECTS}/{p}", token=short)
    assert r.status_code == 403 and "expired" in r.json()["detail"]

    with world.sessions.begin() as s:
        suspend_processor(s, name="lingua", reason="test", actor="operator:test")
    r = api.get(f"{SUBJECTS}/{p}", token=token)
    assert r.status_code == 403 and "suspended" in r.json()["detail"]


def test_changes_take_effect_on_the_very_next_request(world: World) -> None:
    # The app caches nothing about keys, processors or contracts: one warm app sees each
    # change of the registry on the next request (containment relies on this).
    ids, token = _setup(world)
    api = world.api()
    p = _pseudonym(world, "lingua", ids[0])
    assert api.get(f"{SUBJECTS}/{p}", token=token).json()["birth_date"] == "1961-02-02"
    with world.sessions.begin() as s:
        contract = s.get(Contract, world.contracts["lingua/main"])
        assert contract is not None
        contract.read_fields = ["pseudonym", "birth_date", "family_name"]
        contract.masks = {"birth_date": "year"}
    assert api.get(f"{SUBJECTS}/{p}", token=token).json() == {
        "pseudonym": p,
        "family_name": subject_values(ids[0])["family_name"],
        "birth_date": 1961,
    }
    other = world.key("lingua")
    with world.sessions.begin() as s:
        suspend_key(s, key_id=_key_id(world, other), reason="test", actor="system:detection")
    r = api.get(f"{SUBJECTS}/{p}", token=other)
    assert r.status_code == 403 and "suspended" in r.json()["detail"]
    with world.sessions.begin() as s:
        revoke_key(s, key_id=_key_id(world, token), actor="operator:test")
    r = api.get(f"{SUBJECTS}/{p}", token=token)
    assert r.status_code == 403 and "revoked" in r.json()["detail"]


def _key_id(world: World, token: str) -> int:
    with world.sessions() as s:
        return s.scalars(select(ApiKey.id).where(ApiKey.prefix == token.split("_")[1])).one()


def test_reads_and_pages_bypass_sqlalchemys_statement_machinery(world: World) -> None:
    # The hot path runs on the driver's cursor (vigie.store.raw): SQLAlchemy executes
    # nothing for a read or a page, not even the BEGIN (docs/benchmarks.md, Gateway).
    ids, token = _setup(world)
    api, one = world.api(), f"{SUBJECTS}/{_pseudonym(world, 'lingua', ids[0])}"
    through_sqlalchemy: list[str] = []
    event.listen(world.engine, "before_cursor_execute", lambda *a: through_sqlalchemy.append(a[2]))
    assert api.get(one, token=token).is_success
    assert api.get(SUBJECTS, token=token).is_success
    assert through_sqlalchemy == []


def test_expired_contract_or_assignment_is_out_of_scope(world: World) -> None:
    ids = world.people(3)
    old = world.processor("old", valid_to=date(2025, 12, 31))
    world.assign(old, ids)
    assert world.api().get(SUBJECTS, token=world.key("old")).status_code == 403
    cid = world.processor("lingua")
    world.assign(cid, ids[:1], ends_on=date(2026, 3, 1))
    world.assign(cid, ids[1:2], starts_on=date(2026, 3, 3))
    world.assign(cid, ids[2:])
    api, token = world.api(), world.key("lingua")
    page = api.get(SUBJECTS, token=token).json()
    assert [r["pseudonym"] for r in page["data"]] == [_pseudonym(world, "lingua", ids[2])]
    assert (
        api.get(f"{SUBJECTS}/{_pseudonym(world, 'lingua', ids[0])}", token=token).status_code == 404
    )


def test_pagination_walks_the_scope_once(world: World) -> None:
    ids = world.people(25)
    cid = world.processor("lingua")
    world.assign(cid, ids[::2])
    api, token = world.api(), world.key("lingua")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        r = api.get(SUBJECTS, token=token, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["data"]) <= 4
        seen += [p["pseudonym"] for p in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [_pseudonym(world, "lingua", i) for i in ids[::2]]
    assert len(_events(world, "subject:list")) == 4


def test_cursor_cannot_be_forged_or_replayed_by_another_processor(world: World) -> None:
    ids = world.people(6)
    world.assign(world.processor("lingua"), ids)
    world.assign(world.processor("civic"), ids)
    api = world.api()
    a, b = world.key("lingua"), world.key("civic")
    cursor = api.get(SUBJECTS, token=a, params={"limit": 2}).json()["next_cursor"]
    assert api.get(SUBJECTS, token=a, params={"cursor": cursor}).status_code == 200
    replay = api.get(SUBJECTS, token=b, params={"cursor": cursor})
    assert replay.status_code == 400 and replay.json()["type"].endswith("/invalid-request")
    flipped = cursor[:10] + ("A" if cursor[10] != "A" else "B") + cursor[11:]
    assert api.get(SUBJECTS, token=a, params={"cursor": flipped}).status_code == 400
    for junk in ("", "%%%", "é" * 10, "A" * 96, "' OR 1=1 --"):
        r = api.get(SUBJECTS, token=a, params={"cursor": junk})
        assert r.status_code in (200, 400, 422), (junk, r.status_code)
    world.advance(timedelta(days=2))
    assert api.get(SUBJECTS, token=a, params={"cursor": cursor}).status_code == 400


def test_oversized_page_is_refused(world: World) -> None:
    _, token = _setup(world)
    api = world.api()
    for limit in (0, -1, world.settings.gateway_max_page_size + 1, 10**20, "x"):
        r = api.get(SUBJECTS, token=token, params={"limit": limit})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON


def test_write_back(world: World) -> None:
    ids, token = _setup(world, write_fields=["attendance_hours"])
    api = world.api()
    url = f"{SUBJECTS}/{_pseudonym(world, 'lingua', ids[0])}/events"
    r = api.post(url, token=token, json={"attendance_hours": 12})
    assert r.status_code == 201, r.text
    assert r.json()["recorded"] == {"attendance_hours": 12}
    with world.sessions() as s:
        [event] = s.scalars(select(SubjectEvent)).all()
    assert event.subject_id == ids[0] and event.values == {"attendance_hours": 12}
    assert len(_events(world, "subject:write")) == 1

    cases = [
        ({"course_completed": True}, 403),  # known field, not in this contract
        ({"attendance_hours": -3}, 400),
        ({"attendance_hours": "12"}, 400),
        ({"nope": 1}, 400),
        ({}, 400),
    ]
    for body, status in cases:
        assert api.post(url, token=token, json=body).status_code == status, body
    assert (
        api.post(
            url, token=token, content=b"[1,2]", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        api.post(
            url, token=token, content=b"{bad", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        api.post(
            url, token=token, content=b"a=1", headers={"content-type": "text/plain"}
        ).status_code
        == 415
    )
    huge = b'{"attendance_hours": 1, "x": "' + b"a" * 100_000 + b'"}'
    r = api.post(url, token=token, content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413
    other = f"{SUBJECTS}/{_pseudonym(world, 'lingua', ids[5])}/events"
    assert api.post(other, token=token, json={"attendance_hours": 1}).status_code == 404
    assert api.post(url, json={"attendance_hours": 1}).status_code == 401


def test_health_and_unknown_routes(world: World) -> None:
    api = world.api()
    assert api.get("/api/v1/health").json() == {"status": "ok"}
    r = api.get("/api/v1/nothing")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
    r = api.request("DELETE", SUBJECTS)
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM_JSON


def test_openapi_documents_every_route_with_examples(world: World) -> None:
    doc = world.api().get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    assert set(paths) == {
        "/api/v1/health",
        "/api/v1/subjects",
        "/api/v1/subjects/{pseudonym}",
        "/api/v1/subjects/{pseudonym}/events",
        "/hooks/canary",
        "/api/v1/attestations",
        "/api/v1/campaigns/{campaign_id}/acknowledgement",
        "/api/v1/pseudonyms/rotation",
    }
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for name in ("SubjectRecord", "SubjectPage", "Problem", "WriteReceipt"):
        assert doc["components"]["schemas"][name].get("examples"), name
    responses = paths["/api/v1/subjects"]["get"]["responses"]
    assert {"200", "401", "403", "429", "503"} <= set(responses)
    assert PROBLEM_JSON in responses["429"]["content"]


def test_the_documented_pseudonyms_are_spelt_as_the_api_spells_them(world: World) -> None:
    import re
    from pathlib import Path

    from vigie.fingerprint.pseudonyms import parse

    schema = world.api().get("/api/v1/openapi.json").text
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    found = re.findall(r'"pseudonym": ?"([^"]+)"', schema + docs)
    found += re.findall(r"subjects/([a-z0-9]{26})\b", docs)
    found += re.findall(r'"examples": ?\["([a-z0-9]{26})"\]', schema)
    assert len(found) >= 6
    for example in found:
        parse(example)  # raises MalformedPseudonym if a client copying it would get a 400
