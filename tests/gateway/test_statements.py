"""How many statements a request sends to the database, and on PostgreSQL how many
round trips, counted by the driver itself (:mod:`tests.protocol`).

A request that grows a statement or a round trip fails here first: each round trip is
a millisecond on a 1 ms link, and statements are most of a read's cost on SQLite.
"""

from __future__ import annotations

import pytest

from tests.gateway.conftest import World
from tests.protocol import counting
from vigie.detection.notify import NullNotifier
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway.wiring import default_observers

SUBJECTS = "/api/v1/subjects"
# The ceilings, per request kind and database. PostgreSQL (staged, as ``vigie serve``
# runs): BEGIN, key + contracts + rate count read (one statement), scope, the rate count
# (the processor's lock), the charge (one statement), the audit event, COMMIT. SQLite
# also chains the event in the request (head, event, head, served index: disclosures,
# receipts, fields) and charges in three statements; it reports each row of an
# ``executemany`` as a statement (the page of five: three new people in the ledger, five
# disclosures and five receipts).
CEILING = {
    ("postgresql", "read"): 7,
    ("postgresql", "page"): 7,
    ("sqlite", "read"): 14,
    ("sqlite", "page"): 24,
}
# PostgreSQL's round trips once the key was seen (:mod:`vigie.store.pipeline`,
# :mod:`vigie.gateway.ahead`): BEGIN + key + scope; the rate count + the charge; the
# audit event + COMMIT.
ROUND_TRIPS = {"read": 3, "page": 3}


def test_a_read_and_a_page_send_few_statements(world: World) -> None:
    ids = world.people(5)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    staged = world.engine.dialect.name == "postgresql"  # as ``vigie serve`` runs
    api = world.api(staged=staged)
    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    kind = world.engine.dialect.name
    for request, path in (
        ("read", f"{SUBJECTS}/{pseudo.encode(ids[1])}"),
        ("page", f"{SUBJECTS}?limit=5"),
    ):
        with counting(world.engine) as sent:
            assert api.get(path, token=token).status_code == 200
        assert sent.statements, "the driver reported no statement"
        assert len(sent.statements) <= CEILING[kind, request], "\n".join(sent.statements)
        if kind == "postgresql":
            assert sent.round_trips <= ROUND_TRIPS[request], "\n".join(sent.statements)


def test_a_refused_read_takes_five_round_trips_on_postgresql(world: World) -> None:
    """The request's (BEGIN + key + scope, whether the person was ever assigned for the
    detectors, ROLLBACK) and its refusal's record (BEGIN + rate count, audit event +
    COMMIT)."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's")
    ids = world.people(2)
    world.assign(world.processor("lingua"), ids[:1])
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    api = world.api(staged=True)
    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    with counting(world.engine) as sent:
        assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[1])}", token=token).status_code == 404
    assert sent.round_trips <= 5, "\n".join(sent.statements)


def test_a_read_with_the_detection_pipeline_on_postgresql(world: World) -> None:
    """As ``vigie serve`` runs: the request's 3 round trips, its throttle check sent with
    its charge (the detectors' ``admission``), then detection's one statement (throttle
    check, record, detector state), which commits on its own
    (:mod:`vigie.detection.record_sql`): 4 (15–16 with a statement per table)."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("round trips are PostgreSQL's")
    ids = world.people(3)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    observers = default_observers(world.settings, world.engine, notifier=NullNotifier())
    api = world.api(staged=True, observers=observers)
    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    for i in ids[1:]:
        with counting(world.engine) as sent:
            assert api.get(f"{SUBJECTS}/{pseudo.encode(i)}", token=token).status_code == 200
        assert sent.round_trips <= 4, "\n".join(sent.statements)
