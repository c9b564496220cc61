"""The gateway in staged mode: each request commits its audit events unsequenced (no
lock shared by all processors), and the sequencer chains them afterwards."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from tests.gateway.conftest import World
from vigie.audit.index import received_by
from vigie.audit.models import AuditEvent, AuditPending
from vigie.audit.sequencer import integrate_all
from vigie.audit.trail import lock_head
from vigie.audit.verify import verify_trail
from vigie.fingerprint.pseudonyms import Pseudonymiser

SUBJECTS = "/api/v1/subjects"


def _counts(world: World) -> tuple[int, int]:
    with world.sessions() as s:
        events = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
        pending = s.scalar(select(func.count()).select_from(AuditPending)) or 0
    return events, pending


def test_staged_requests_are_durable_then_integrated_once(world: World) -> None:
    ids = world.people(6)
    world.assign(world.processor("lingua"), ids[:4])
    token = world.key("lingua")
    pid = world.processor_id("lingua")
    pseudo = Pseudonymiser(world.secrets, pid)
    api = world.api(staged=True)
    chained, _ = _counts(world)  # the setup's own events (operators' actions, sequenced)

    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    assert api.get(f"{SUBJECTS}?limit=3", token=token).status_code == 200
    written = api.post(
        f"{SUBJECTS}/{pseudo.encode(ids[1])}/events", token=token, json={"attendance_hours": 2}
    )
    assert written.status_code == 201, written.text
    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[5])}", token=token).status_code == 404

    assert _counts(world) == (chained, 4)  # all four durable, none on the chain yet
    with world.sessions() as s:
        assert received_by(s, processor_id=pid) == set()

    assert integrate_all(world.engine) == 4
    assert _counts(world) == (chained + 4, 0)
    with world.sessions() as s:
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.seq > chained).order_by("seq"))
        )
        assert received_by(s, processor_id=pid) == set(ids[:3])
    assert actions == ["subject:read", "subject:list", "subject:write", "access:denied"]
    report = verify_trail(world.engine, public_key=world.secrets.verify_key)
    assert report.events == chained + 4 and report.pending.events == 0


def test_a_held_chain_head_does_not_stop_a_staged_request(world: World) -> None:
    """The SIGSTOP case in miniature: whoever holds the head lock, requests still answer."""
    if world.engine.dialect.name != "postgresql":
        return  # SQLite has one writer at a time whatever the mode
    ids = world.people(2)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    api = world.api(staged=True)
    answers: list[int] = []
    with world.engine.connect() as holder:
        holder.begin()
        lock_head(holder)  # as a paused sequencer or operator command would
        reader = threading.Thread(
            target=lambda: answers.append(
                api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code
            )
        )
        reader.start()
        reader.join(20)
        answered_meanwhile = list(answers)
        holder.rollback()
    reader.join(30)
    assert answered_meanwhile == [200]
    assert _counts(world)[1] == 1
