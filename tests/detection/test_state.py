"""The shared counters: distinct people per hour and day, fresh people, canaries, keys."""

from __future__ import annotations

from datetime import timedelta

from vigie.detection import state
from vigie.detection.models import ActivityWindow

from .conftest import World


def test_counts_distinct_people_per_hour_and_day(world: World) -> None:
    with world.sessions.begin() as s:
        first = state.record(s, world.access(world.scope[:10]))
        again = state.record(s, world.access(world.scope[5:15]))
    assert (first.day.people, first.day.fresh, first.hour.people) == (10, 10, 10)
    assert (again.day.people, again.day.fresh, again.hour.people) == (15, 15, 15)
    assert (again.day.first_seq, again.day.last_seq) == (1, 2)

    world.tick(timedelta(hours=1))
    with world.sessions.begin() as s:
        later = state.record(s, world.access(world.scope[10:20]))
    # Same day: 5 new people; next hour: all 10 count again; none is fresh for 15..19 ids.
    assert (later.day.people, later.hour.people, later.day.fresh) == (20, 10, 20)

    world.tick(timedelta(days=1))
    with world.sessions.begin() as s:
        tomorrow = state.record(s, world.access(world.scope[:20]))
    assert (tomorrow.day.people, tomorrow.day.fresh) == (20, 0)


def test_counts_failures_canaries_lists_and_cursor(world: World) -> None:
    with world.sessions.begin() as s:
        state.record(s, world.access(not_found=True, status=404))
        state.record(s, world.access(expired_assignment=True, status=404))
        rec = state.record(
            s, world.access(world.scope[:100], kind="list", cursor_position=100, page_size=100)
        )
        rec = state.record(s, world.access(world.scope[:100], kind="list", cursor_position=40))
    assert (rec.day.not_found, rec.day.expired, rec.day.requests) == (1, 1, 4)
    assert rec.day.canaries == 2  # ids 50 and 100 are canaries
    assert rec.day.listed == 100
    assert rec.hour.cursor_max == 100


def test_keys_and_origins(world: World) -> None:
    with world.sessions.begin() as s:
        one = state.record(s, world.access([1]))
        two = state.record(s, world.access([1], key_id=world.key_ids[1]))
        same_net = state.record(s, world.access([1], origin="192.0.2.99"))
        other_net = state.record(s, world.access([1], origin="203.0.113.5"))
    assert (one.active_keys, two.active_keys) == (1, 2)
    assert one.new_origin == "192.0.2.0/24"
    assert two.new_origin is None and same_net.new_origin is None
    assert other_net.new_origin == "203.0.113.0/24"
    assert other_net.known_since == world.now
    world.tick(timedelta(hours=2))
    with world.sessions.begin() as s:
        assert state.record(s, world.access([1])).active_keys == 1


def test_history_excludes_today_and_reads_the_contract(world: World) -> None:
    with world.sessions.begin() as s:
        for day in range(3):
            for _ in range(day + 1):
                state.record(s, world.access(world.scope[day * 10 : day * 10 + 10]))
            world.tick(timedelta(days=1))
        state.record(s, world.access(world.scope[:500]))
        hist = state.history(s, processor_id=world.processor_id, at=world.now)
        windows = s.query(ActivityWindow).count()
    assert hist.day_people == (10, 10, 10)
    assert hist.hour_of_day_requests[9] == 6
    assert hist.expected_per_day == 40
    assert windows == 8


def test_concurrent_workers_lose_no_count(world: World) -> None:
    """Four workers record at once (same processor, same windows): nothing is lost."""
    from concurrent.futures import ThreadPoolExecutor

    def worker(n: int) -> None:
        for i in range(10):
            people = world.scope[n * 100 + i * 10 : n * 100 + i * 10 + 10]
            with world.sessions.begin() as s:
                state.record(s, world.access(people, key_id=world.key_ids[n % 3]))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    with world.sessions.begin() as s:
        rec = state.record(s, world.access([]))
    assert (rec.day.requests, rec.day.people, rec.day.fresh) == (41, 400, 400)
    assert rec.active_keys == 3
