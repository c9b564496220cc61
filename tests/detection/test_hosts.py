"""Detection across hosts: two gateway instances, each with its own engine (its own
connection pool, as two hosts have), in front of one database. One key spread over both
is seen as one: the detectors' state (distinct people, failed look-ups, active keys)
lives in the store, not in the process that answered.

Each rule is driven just under its threshold on the two hosts together, with each host
well under it alone, then over it by one request: a detector that counted per process
would stay silent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.conftest import Api
from vigie.detection.models import ActivityWindow, Alert
from vigie.detection.pacing import DrivenClock
from vigie.detection.pipeline import DetectionPipeline
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.app import create_app
from vigie.gateway.models import LedgerEntry
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.engine import make_engine

from .conftest import World


@pytest.fixture
def hosts(
    world: World, settings: Settings, engine: Engine, secrets: InstanceSecrets
) -> Iterator[tuple[Api, Api]]:
    """Host A on the test's engine, host B on an engine of its own; one driven clock."""
    clock = DrivenClock(world.now)
    other = make_engine(settings.resolved_database_url)
    a, b = (
        Api(
            create_app(
                settings,
                engine=e,
                secrets=secrets,
                observers=[DetectionPipeline()],
                clock=clock,
            )
        )
        for e in (engine, other)
    )
    yield a, b
    other.dispose()


def _paths(secrets: InstanceSecrets, world: World, ids: list[int]) -> list[str]:
    pseudo = Pseudonymiser(secrets, world.processor_id)
    return [f"/api/v1/subjects/{p}" for p in pseudo.encode_many(ids)]


def _alerts(sessions: sessionmaker[Session], detector: str) -> list[Alert]:
    with sessions() as s:
        return list(s.scalars(select(Alert).where(Alert.detector == detector)))


def test_failed_look_ups_on_two_hosts_add_up(
    hosts: tuple[Api, Api], world: World, secrets: InstanceSecrets
) -> None:
    a, b = hosts
    token = world.tokens[0]
    strangers = _paths(secrets, world, world.outside[:25])  # not in the processor's scope
    for i in range(19):  # 10 on A, 9 on B: under the hour's limit of 20 together
        assert (a if i % 2 == 0 else b).get(strangers[i], token=token).status_code == 404
    assert _alerts(world.sessions, "probing") == []
    assert b.get(strangers[19], token=token).status_code == 404  # the 20th, on B
    [alert] = _alerts(world.sessions, "probing")
    assert alert.evidence["rule"] == "guess-hour"
    assert alert.evidence["not_found_this_hour"] == 20
    # The throttle the alert set stops the key's reads on both hosts (a failed look-up
    # is answered 404 throttled or not).
    [known] = _paths(secrets, world, world.scope[:1])
    assert a.get(known, token=token).status_code == 429
    assert b.get(known, token=token).status_code == 429
    # Refused with the charge (the throttle check goes in its round trip on PostgreSQL):
    # the charge rolled back, the person was never counted against the budget.
    with world.sessions() as s:
        charged = s.scalars(
            select(LedgerEntry.subject_id).where(LedgerEntry.processor_id == world.processor_id)
        ).all()
    assert world.scope[0] not in charged


def test_people_read_on_two_hosts_are_counted_once(
    hosts: tuple[Api, Api], world: World, secrets: InstanceSecrets
) -> None:
    a, b = hosts
    token = world.tokens[0]
    paths = _paths(secrets, world, world.scope[:50])
    for p in paths[:30]:
        assert a.get(p, token=token).status_code == 200
    for p in paths:  # the same 30 again, then 20 new ones
        assert b.get(p, token=token).status_code == 200
    with world.sessions() as s:
        windows = dict(
            s.execute(
                select(ActivityWindow.span, ActivityWindow.people).where(
                    ActivityWindow.processor_id == world.processor_id
                )
            ).all()
        )
        requests = s.scalar(
            select(ActivityWindow.requests).where(
                ActivityWindow.processor_id == world.processor_id, ActivityWindow.span == "day"
            )
        )
    assert windows == {"hour": 50, "day": 50}  # not 30 + 50
    assert requests == 80


def test_keys_used_on_different_hosts_are_seen_together(
    hosts: tuple[Api, Api], world: World, secrets: InstanceSecrets
) -> None:
    a, b = hosts
    [path] = _paths(secrets, world, world.scope[:1])
    assert a.get(path, token=world.tokens[0]).status_code == 200
    assert b.get(path, token=world.tokens[1]).status_code == 200
    assert _alerts(world.sessions, "multikey") == []  # two keys: under the limit of three
    assert a.get(path, token=world.tokens[2]).status_code == 200
    [alert] = _alerts(world.sessions, "multikey")
    assert alert.evidence["active_keys"] == 3
