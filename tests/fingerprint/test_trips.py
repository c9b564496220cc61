"""Canary trips: by function, through the webhook (real ASGI HTTP), and their alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.detection.conftest import T0, World
from tests.detection.conftest import world as world  # the fixture, re-used
from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.anchors import Bound
from vigie.audit.seals import reseal
from vigie.breach.models import Incident
from vigie.detection.models import Alert, CanaryTrip
from vigie.errors import IntegrityError, NotFound
from vigie.fingerprint.canaries import contact_rows
from vigie.fingerprint.models import CanaryContact
from vigie.fingerprint.trips import list_trips, make_router, trip, webhook_token
from vigie.processors.models import Processor
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.store.base import utcnow

from ..anchoring import sign

CANARY = 50  # subject 50 is a canary of the world (every 50th person)


BOUND = Bound(max_events=30_000, max_seconds=900.0)  # the default settings' bound


def _contacts(world: World) -> World:
    with world.sessions.begin() as s:
        people = list(s.scalars(select(Subject).where(Subject.is_canary)))
        rows = contact_rows(
            [p.id for p in people], [p.email for p in people], [p.phone for p in people]
        )
        s.add_all(CanaryContact(subject_id=i, kind=k, value=v) for i, k, v in rows)
        s.flush()
        reseal(s, actor="operator:test")  # the contacts written directly, sealed as they are
    return world


@pytest.fixture
def canaries(world: World, secrets: InstanceSecrets) -> World:
    """The world's canaries with their contacts, the trail anchored."""
    _contacts(world)
    sign(world.sessions, secrets)
    return world


def _disclose(
    world: World, subject_id: int, secrets: InstanceSecrets | None, at: datetime = T0
) -> int:
    """The gateway discloses ``subject_id`` at ``at``; and, given ``secrets``, signs as
    `vigie serve` does on its timer."""
    with world.sessions.begin() as s:
        seq = trail.append(
            s,
            action=Action.SUBJECT_READ,
            actor="processor:lingua-test/key:1",
            processor_id=world.processor_id,
            key_id=world.key_ids[0],
            subject_ids=[subject_id],
            fields=["given_name", "email"],
            at=at,
        )
    if secrets is not None:
        sign(world.sessions, secrets)
    return seq


def test_a_trip_suspends_the_processor_that_received_the_canary(
    canaries: World, secrets: InstanceSecrets
) -> None:
    seq = _disclose(canaries, CANARY, secrets)
    with canaries.sessions.begin() as s:
        result = trip(
            s,
            contact=" Person50@MAIL.example ",
            source="mx1",
            actor="operator:dpo",
            public_key=secrets.verify_key,
            bound=BOUND,
        )
    assert result.processors == ("lingua-test",) and result.channel == "email"
    assert result.received_by == ("lingua-test",)
    assert result.canaries == ("DET-00000050",)
    with canaries.sessions() as s:
        (alert,) = s.scalars(select(Alert))
        processor = s.get(Processor, canaries.processor_id)
        incident = s.scalars(select(Incident)).one()
        (recorded,) = list_trips(s)
    assert (alert.severity, alert.containment) == ("critical", "suspend_processor")
    assert alert.evidence["received"] is True
    assert alert.evidence["audit_seq_from"] == seq == alert.evidence["audit_seq_to"]
    assert processor is not None and processor.suspended_at is not None
    assert incident.source == "canary" and incident.processor_id == canaries.processor_id
    assert recorded.subject_id == CANARY and recorded.alert_ids == [alert.id]


def test_an_assigned_canary_names_its_processor_by_phone(
    canaries: World, secrets: InstanceSecrets
) -> None:
    with canaries.sessions.begin() as s:
        result = trip(
            s,
            contact="06 10 00 01 00",
            actor="operator:dpo",
            public_key=secrets.verify_key,
            bound=BOUND,
        )  # +33610000100
    assert result.processors == ("lingua-test",) and result.channel == "phone"
    with canaries.sessions() as s:
        alert = s.scalars(select(Alert)).one()
    assert alert.evidence["received"] is False
    assert result.received_by == ()
    assert (alert.severity, alert.containment) == ("low", "alert")


def test_a_canary_nobody_had_points_at_the_controller(
    canaries: World, secrets: InstanceSecrets
) -> None:
    with canaries.sessions.begin() as s:
        result = trip(
            s,
            contact="person1050@mail.example",
            actor="operator:dpo",
            public_key=secrets.verify_key,
            bound=BOUND,
        )  # outside
    assert result.processors == ()
    with canaries.sessions() as s:
        alert = s.scalars(select(Alert)).one()
    assert alert.processor_id is None and alert.containment == "alert"


@pytest.mark.parametrize("contact", ["person1@mail.example", "nobody@mail.example", "12"])
def test_unknown_contacts_are_not_found(
    canaries: World, secrets: InstanceSecrets, contact: str
) -> None:
    with canaries.sessions.begin() as s, pytest.raises(NotFound):
        trip(s, contact=contact, actor="operator:dpo", public_key=secrets.verify_key, bound=BOUND)
    with canaries.sessions() as s:
        assert s.scalars(select(CanaryTrip)).all() == []


def test_a_trip_refuses_an_index_that_does_not_verify(
    canaries: World, secrets: InstanceSecrets
) -> None:
    """Clearing the canary's receipt from the served index must not clear the processor
    that received it: the trip is refused (nothing recorded) and says why."""
    _disclose(canaries, CANARY, secrets)
    with canaries.sessions.begin() as s:
        s.execute(text("DELETE FROM audit_receipts WHERE subject_id = :c"), {"c": CANARY})
    with canaries.sessions.begin() as s, pytest.raises(IntegrityError) as info:
        trip(s, contact="person50@mail.example", actor="operator:dpo",
             public_key=secrets.verify_key, bound=BOUND)  # fmt: skip
    assert "served index: processor" in str(info.value)
    assert "attribution of the canary trip refused" in str(info.value)
    with canaries.sessions() as s:
        assert s.scalars(select(CanaryTrip)).all() == []
        assert s.scalars(select(Alert)).all() == []


def test_a_trip_is_refused_on_a_trail_with_no_checkpoint(
    world: World, secrets: InstanceSecrets
) -> None:
    """Events no checkpoint covers could have been removed or rewritten (a disclosure of
    the canary erased, the chain recomputed): the trip names nobody, it is refused."""
    _contacts(world)
    with world.sessions.begin() as s, pytest.raises(IntegrityError) as info:
        trip(s, contact="person50@mail.example", actor="operator:dpo",
             public_key=secrets.verify_key, bound=BOUND)  # fmt: skip
    message = str(info.value)
    assert message.startswith("UNANCHORED: ") and "no signed checkpoint at all" in message
    assert "attribution of the canary trip refused" in message
    assert "sign one with `vigie audit checkpoint`" in message
    with world.sessions() as s:
        assert s.scalars(select(CanaryTrip)).all() == []


def test_a_trip_is_refused_when_the_tail_exceeds_the_bound(
    canaries: World, secrets: InstanceSecrets
) -> None:
    _disclose(canaries, CANARY, None)  # at T0, months ago, and never anchored
    with canaries.sessions.begin() as s, pytest.raises(IntegrityError) as info:
        trip(s, contact="person50@mail.example", actor="operator:dpo",
             public_key=secrets.verify_key, bound=BOUND)  # fmt: skip
    assert str(info.value).startswith("UNANCHORED: 1 event after checkpoint #1, the oldest ")
    with canaries.sessions() as s:
        assert s.scalars(select(Alert)).all() == []


def test_a_trip_runs_when_the_tail_is_within_the_bound(
    canaries: World, secrets: InstanceSecrets
) -> None:
    _disclose(canaries, CANARY, None, at=utcnow())  # a second ago, not signed yet
    with canaries.sessions.begin() as s:
        result = trip(s, contact="person50@mail.example", actor="operator:dpo",
                      public_key=secrets.verify_key, bound=BOUND)  # fmt: skip
    assert result.received_by == ("lingua-test",)


class Hook:
    """Synchronous calls into an ASGI app over httpx's in-process transport."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://vigie") as client:
                return await client.post(url, **kwargs)

        return anyio.run(go)


@pytest.fixture
def hook(canaries: World, secrets: InstanceSecrets, sessions: sessionmaker[Session]) -> Hook:
    app = FastAPI()
    app.include_router(
        make_router(sessions=sessions, secrets=secrets, bound=BOUND, clock=lambda: T0)
    )
    return Hook(app)


def test_webhook_needs_the_token(hook: Hook, secrets: InstanceSecrets) -> None:
    body = {"contact": "person50@mail.example"}
    refused = hook.post("/hooks/canary", json=body)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    wrong = {"Authorization": "Bearer " + "0" * 48}
    assert hook.post("/hooks/canary", json=body, headers=wrong).status_code == 401


def test_webhook_records_a_trip(hook: Hook, secrets: InstanceSecrets, canaries: World) -> None:
    auth = {"Authorization": f"Bearer {webhook_token(secrets)}"}
    answer = hook.post(
        "/hooks/canary", json={"contact": "person50@mail.example", "source": "mx"}, headers=auth
    )
    assert answer.status_code == 202
    assert answer.json()["processors"] == ["lingua-test"]
    missing = hook.post("/hooks/canary", json={"contact": "x@mail.example"}, headers=auth)
    assert missing.status_code == 404
    with canaries.sessions() as s:
        (recorded,) = list_trips(s)
    assert recorded.source == "mx" and recorded.at == T0


def test_webhook_refuses_an_index_that_does_not_verify(
    hook: Hook, secrets: InstanceSecrets, canaries: World
) -> None:
    _disclose(canaries, CANARY, secrets)
    with canaries.sessions.begin() as s:
        s.execute(text("DELETE FROM audit_disclosures WHERE subject_id = :c"), {"c": CANARY})
    auth = {"Authorization": f"Bearer {webhook_token(secrets)}"}
    answer = hook.post("/hooks/canary", json={"contact": "person50@mail.example"}, headers=auth)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert "attribution of the canary trip refused" in answer.json()["detail"]
    with canaries.sessions() as s:
        assert list_trips(s) == []


def test_webhook_refuses_an_unanchored_trail(
    hook: Hook, secrets: InstanceSecrets, canaries: World
) -> None:
    _disclose(canaries, CANARY, None)
    auth = {"Authorization": f"Bearer {webhook_token(secrets)}"}
    answer = hook.post("/hooks/canary", json={"contact": "person50@mail.example"}, headers=auth)
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("UNANCHORED: 1 event after checkpoint")
    with canaries.sessions() as s:
        assert list_trips(s) == []
