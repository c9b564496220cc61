"""Fail closed: observers refuse a caller before it reads, withhold an answer after the
commit (detection is never inside the disclosure's transaction), and an unavailable audit
trail stops disclosure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.gateway.conftest import World
from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.errors import BudgetExceeded, Denied
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway import budget
from vigie.gateway.observe import Access
from vigie.processors import status

SUBJECTS = "/api/v1/subjects"


@dataclass
class Recorder:
    """Sees every request; refuses lists; on a denied request writes an event and refuses."""

    seen: list[Access] = field(default_factory=list)

    def admit(self, session: Session, *, processor_id: int, key_id: int, at: datetime) -> None:
        pass

    def observe(self, session: Session, access: Access) -> None:
        self.seen.append(access)
        if access.status >= 400:
            trail.append(
                session,
                action=Action.ALERT_RAISE,
                actor="system:test",
                processor_id=access.processor_id,
                detail={"status": access.status},
            )
            raise Denied("already refused")
        if access.kind == "list":
            raise Denied("lists are forbidden by a detector")


@dataclass
class Throttle:
    def admit(self, session: Session, *, processor_id: int, key_id: int, at: datetime) -> None:
        raise BudgetExceeded("throttled by detection", retry_after=120)

    def observe(self, session: Session, access: Access) -> None:
        pass


def _actions(world: World) -> list[str]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_observers_see_requests_and_can_stop_them(world: World) -> None:
    ids = world.people(3)
    world.assign(world.processor("lingua"), ids[:2])
    token = world.key("lingua")
    recorder = Recorder()
    api = world.api(observers=[recorder])
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))

    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    read = recorder.seen[-1]
    assert (read.kind, list(read.subject_ids), read.status) == ("read", [ids[0]], 200)
    assert read.audit_seq is not None and read.origin == "192.0.2.10"
    assert "given_name" in read.fields

    r = api.get(SUBJECTS, token=token)
    # Shown after its commit, the page is refused by the observer: its answer is withheld.
    assert r.status_code == 403 and r.json()["detail"] == "lists are forbidden by a detector"
    assert "given_name" not in r.text
    assert recorder.seen[-1].kind == "list" and recorder.seen[-1].status == 200
    with world.sessions() as s:  # committed first: the trail and the ledger over-state
        assert budget.usage(s, processor_id=world.processor_id("lingua"), on=world.now.date()) == (
            2,
            2,
        )

    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[2])}", token=token).status_code == 404
    miss = recorder.seen[-1]
    assert miss.not_found and miss.status == 404 and list(miss.subject_ids) == []
    actions = _actions(world)
    assert actions.count("subject:list") == 1
    assert actions.count("alert:raise") == 1
    assert actions.count("access:denied") == 1


@dataclass
class Broken:
    """Detection that cannot run (its store is gone, say)."""

    def admit(self, session: Session, *, processor_id: int, key_id: int, at: datetime) -> None:
        pass

    def observe(self, session: Session, access: Access) -> None:
        raise RuntimeError("detection unavailable")


def test_detection_failing_after_the_commit_withholds_the_answer(world: World) -> None:
    ids = world.people(1)
    world.assign(world.processor("lingua"), ids)
    api = world.api(observers=[Broken()])
    p = Pseudonymiser(world.secrets, world.processor_id("lingua")).encode(ids[0])
    r = api.get(f"{SUBJECTS}/{p}", token=world.key("lingua"))
    assert r.status_code == 503 and "nothing was sent" in r.json()["detail"]
    assert "given_name" not in r.text


def test_an_observer_can_throttle(world: World) -> None:
    ids = world.people(1)
    world.assign(world.processor("lingua"), ids)
    api = world.api(observers=[Throttle()])
    r = api.get(SUBJECTS, token=world.key("lingua"))
    assert r.status_code == 429 and r.headers["retry-after"] == "120"


def test_expired_assignment_is_flagged_for_detectors(world: World) -> None:
    from datetime import date

    ids = world.people(1)
    world.assign(world.processor("lingua"), ids, ends_on=date(2026, 1, 1))
    recorder = Recorder()
    api = world.api(observers=[recorder])
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    assert (
        api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=world.key("lingua")).status_code == 404
    )
    assert recorder.seen[-1].expired_assignment


def test_no_audit_no_disclosure(world: World) -> None:
    ids = world.people(2)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    api = world.api()
    with world.engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_events"))
    r = api.get(SUBJECTS, token=token)
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "nothing was sent" in r.json()["detail"]
    assert "given_name" not in r.text
    with world.sessions() as s:
        assert budget.usage(s, processor_id=world.processor_id("lingua"), on=world.now.date()) == (
            0,
            0,
        )


@dataclass
class SuspendOnFirstRead:
    """Contains the key on the first read it sees, as a detector's high alert does."""

    def admit(self, session: Session, *, processor_id: int, key_id: int, at: datetime) -> None:
        pass

    def observe(self, session: Session, access: Access) -> None:
        if access.status == 200:
            status.suspend_key(
                session, key_id=access.key_id, reason="test containment", actor="system:test"
            )


def test_a_suspension_decided_after_the_commit_applies_from_the_next_request(
    world: World,
) -> None:
    ids = world.people(2)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    api = world.api(observers=[SuspendOnFirstRead()], staged=world.engine.dialect.name != "sqlite")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    refused = api.get(f"{SUBJECTS}/{pseudo.encode(ids[1])}", token=token)
    assert refused.status_code == 403 and "given_name" not in refused.text
