"""Budgets of distinct people (day, 30 days) and request rate, through the real API."""

from __future__ import annotations

from datetime import timedelta

from tests.gateway.conftest import World
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway import budget

SUBJECTS = "/api/v1/subjects"


def _read(world: World, api, token: str, subject_id: int):  # type: ignore[no-untyped-def]
    p = Pseudonymiser(world.secrets, world.processor_id("lingua")).encode(subject_id)
    return api.get(f"{SUBJECTS}/{p}", token=token)


def _usage(world: World) -> tuple[int, int]:
    with world.sessions() as s:
        return budget.usage(s, processor_id=world.processor_id("lingua"), on=world.now.date())


def test_daily_budget_stops_at_the_exact_limit_and_rereads_are_free(world: World) -> None:
    ids = world.people(5)
    world.assign(world.processor("lingua", per_day=3), ids)
    api = world.api()
    token, other_key = world.key("lingua"), world.key("lingua")
    assert [_read(world, api, token, i).status_code for i in ids[:3]] == [200, 200, 200]
    r = _read(world, api, other_key, ids[3])  # budgets count across keys
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) == 12 * 3600  # noon to midnight UTC
    assert r.json()["retry_after"] == 12 * 3600
    assert _read(world, api, other_key, ids[0]).status_code == 200  # already disclosed today
    assert _usage(world) == (3, 3)
    world.advance(timedelta(hours=12))  # next day
    assert _read(world, api, token, ids[3]).status_code == 200
    assert _usage(world) == (1, 4)


def test_a_page_ends_where_the_budget_ends(world: World) -> None:
    ids = world.people(12)
    world.assign(world.processor("lingua", per_day=5), ids)
    api, token = world.api(), world.key("lingua")
    first = api.get(SUBJECTS, token=token, params={"limit": 4})
    assert len(first.json()["data"]) == 4 and first.headers["x-budget-remaining-today"] == "1"
    second = api.get(
        SUBJECTS, token=token, params={"limit": 4, "cursor": first.json()["next_cursor"]}
    )
    assert second.status_code == 200
    assert len(second.json()["data"]) == 1 and second.json()["next_cursor"]
    third = api.get(SUBJECTS, token=token, params={"cursor": second.json()["next_cursor"]})
    assert third.status_code == 429
    again = api.get(SUBJECTS, token=token, params={"limit": 5})  # the same five: free
    assert again.status_code == 200 and len(again.json()["data"]) == 5
    assert _usage(world) == (5, 5)


def test_thirty_day_window(world: World) -> None:
    ids = world.people(20)
    world.assign(world.processor("lingua", per_day=10, per_30_days=12), ids)
    api, token = world.api(), world.key("lingua")
    assert all(_read(world, api, token, i).status_code == 200 for i in ids[:10])
    world.advance(timedelta(days=1))
    assert [_read(world, api, token, i).status_code for i in ids[10:13]] == [200, 200, 429]
    assert _read(world, api, token, ids[0]).status_code == 200  # within 30 days: free for 30d
    assert _usage(world) == (3, 12)
    world.advance(timedelta(days=29))  # day one leaves the window, except ids[0]
    assert _usage(world) == (0, 3)
    assert _read(world, api, token, ids[13]).status_code == 200


def test_rate_limit_per_minute(world: World) -> None:
    ids = world.people(2)
    world.assign(world.processor("lingua", rate_per_minute=3), ids)
    api, token = world.api(), world.key("lingua")
    world.advance(timedelta(seconds=20))
    codes = [_read(world, api, token, ids[0]).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = _read(world, api, token, ids[0])
    assert r.status_code == 429 and r.headers["retry-after"] == "40"
    world.advance(timedelta(seconds=40))
    assert _read(world, api, token, ids[0]).status_code == 200


def test_budgets_of_several_contracts_add_up(world: World) -> None:
    ids = world.people(6)
    world.assign(world.processor("lingua", per_day=2, contract="a"), ids[:3])
    world.assign(world.processor("lingua", per_day=2, contract="b", purpose="civic"), ids[3:])
    api, token = world.api(), world.key("lingua")
    assert [_read(world, api, token, i).status_code for i in ids[:5]] == [200] * 4 + [429]
