"""A read's scope query sent ahead with its caller's (PostgreSQL): only a guess, checked in
the same round trip, so every change to a key, a processor or a contract applies from the
very next request."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from tests.gateway.conftest import World
from tests.protocol import counting
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway import budget
from vigie.processors import status
from vigie.processors.keys import revoke_key
from vigie.processors.models import ApiKey

SUBJECTS = "/api/v1/subjects"


@pytest.fixture
def reading(world: World) -> tuple[World, str, Pseudonymiser, list[int]]:
    """lingua's key, having read once (its guess is known), and four people in scope."""
    ids = world.people(5)
    world.assign(world.processor("lingua"), ids[:4])
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    return world, token, pseudo, ids


def _key_id(world: World) -> int:
    with world.sessions() as s:
        return s.scalars(select(ApiKey.id)).one()


def test_reads_and_pages_after_the_first_take_three_round_trips_on_postgresql(
    reading: tuple,
) -> None:
    world, token, pseudo, ids = reading
    if world.engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's")
    api = world.api(staged=True)
    with counting(world.engine) as first:
        assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    with counting(world.engine) as read:
        answer = api.get(f"{SUBJECTS}/{pseudo.encode(ids[1])}", token=token)
    assert answer.status_code == 200
    assert answer.json()["given_name"]
    with counting(world.engine) as page:
        one = api.get(f"{SUBJECTS}?limit=3", token=token).json()
    with counting(world.engine) as next_page:
        two = api.get(f"{SUBJECTS}?limit=3&cursor={one['next_cursor']}", token=token).json()
    rounds = (first.round_trips, read.round_trips, page.round_trips, next_page.round_trips)
    assert rounds == (4, 3, 3, 3)
    pseudonyms = [p["pseudonym"] for p in one["data"] + two["data"]]
    assert pseudonyms == [pseudo.encode(i) for i in ids[:4]]
    assert two["next_cursor"] is None


def test_a_key_revoked_after_a_read_is_refused_on_the_next(reading: tuple) -> None:
    world, token, pseudo, ids = reading
    api = world.api()
    path = f"{SUBJECTS}/{pseudo.encode(ids[0])}"
    assert api.get(path, token=token).status_code == 200
    with world.sessions.begin() as s:
        revoke_key(s, key_id=_key_id(world), actor="operator:test", now=world.now)
    refused = api.get(path, token=token)
    assert refused.status_code == 403
    assert "revoked" in refused.json()["detail"]
    assert "given_name" not in refused.text


def test_a_key_suspended_after_a_read_is_refused_on_the_next(reading: tuple) -> None:
    world, token, pseudo, ids = reading
    api = world.api()
    path = f"{SUBJECTS}/{pseudo.encode(ids[0])}"
    assert api.get(path, token=token).status_code == 200
    with world.sessions.begin() as s:
        status.suspend_key(s, key_id=_key_id(world), reason="test", actor="operator:test")
    assert api.get(path, token=token).status_code == 403


def test_a_processor_suspended_after_a_read_is_refused_on_the_next(reading: tuple) -> None:
    world, token, pseudo, ids = reading
    api = world.api()
    path = f"{SUBJECTS}/{pseudo.encode(ids[0])}"
    assert api.get(path, token=token).status_code == 200
    with world.sessions.begin() as s:
        status.suspend_processor(s, name="lingua", reason="test", actor="operator:test")
    refused = api.get(path, token=token)
    assert refused.status_code == 403
    assert "processor is suspended" in refused.json()["detail"]


def test_a_contract_added_after_a_read_shapes_the_next_answer(reading: tuple) -> None:
    world, token, pseudo, ids = reading
    api = world.api()
    path = f"{SUBJECTS}/{pseudo.encode(ids[0])}"
    assert "postal_code" not in api.get(path, token=token).json()
    wider = world.processor(
        "lingua",
        contract="exams",
        purpose="exams",
        read_fields=("pseudonym", "given_name", "postal_code"),
    )
    world.assign(wider, ids[:1])
    assert "postal_code" in api.get(path, token=token).json()
    page = api.get(f"{SUBJECTS}?limit=2", token=token).json()["data"]
    assert ["postal_code" in p for p in page] == [True, False]


def test_an_ended_contract_takes_its_people_out_of_scope_on_the_next_read(
    reading: tuple,
) -> None:
    world, token, pseudo, ids = reading
    api = world.api()
    path = f"{SUBJECTS}/{pseudo.encode(ids[0])}"
    assert api.get(path, token=token).status_code == 200
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE contracts SET valid_to = :d"), {"d": date(2026, 3, 1)})
    refused = api.get(path, token=token)
    assert refused.status_code == 403
    assert "no contract in force" in refused.json()["detail"]


def test_a_person_out_of_scope_read_ahead_answers_as_one_who_does_not_exist(
    reading: tuple,
) -> None:
    world, token, pseudo, ids = reading
    api = world.api()
    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    outside = api.get(f"{SUBJECTS}/{pseudo.encode(ids[4])}", token=token)
    unknown = api.get(f"{SUBJECTS}/{pseudo.encode(999_999)}", token=token)
    assert outside.status_code == unknown.status_code == 404
    assert outside.json()["detail"] == unknown.json()["detail"]


def test_a_staged_event_that_cannot_be_written_discloses_and_counts_nothing(
    reading: tuple,
) -> None:
    world, token, pseudo, ids = reading
    api = world.api(staged=True)
    path = f"{SUBJECTS}/{pseudo.encode(ids[0])}"
    assert api.get(path, token=token).status_code == 200
    with world.sessions() as s:
        before = budget.usage(s, processor_id=world.processor_id("lingua"), on=world.now.date())
    with world.engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_pending"))
    refused = api.get(f"{SUBJECTS}/{pseudo.encode(ids[1])}", token=token)
    assert refused.status_code == 503
    assert "nothing was sent" in refused.json()["detail"]
    assert "given_name" not in refused.text
    with world.sessions() as s:
        after = budget.usage(s, processor_id=world.processor_id("lingua"), on=world.now.date())
    assert after == before == (1, 1)
