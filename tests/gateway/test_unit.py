"""Units of work: requests arriving together commit together (SQLite), each as if alone.

The requests are fired concurrently at one app on one event loop, as a server's clients
would; what holds for a lone request must hold for each of them: budgets exact, every
answer audited (the chain verifies), refusals recorded with their own answers.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event, func, select

from tests.gateway.conftest import World
from vigie.audit.canonical import decode_subjects
from vigie.audit.models import AuditEvent
from vigie.audit.verify import verify_trail
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway import budget
from vigie.gateway.models import SubjectEvent

SUBJECTS = "/api/v1/subjects"


def _together(app: FastAPI, calls: list[tuple[str, str]]) -> list[int]:
    """Status codes of ``(path, token)`` requests sent all at once (POST for write-backs)."""

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

            async def one(path: str, token: str) -> int:
                headers = {"Authorization": f"Bearer {token}"}
                if path.endswith("/events"):
                    body = {"attendance_hours": 3}
                    return (await client.post(path, headers=headers, json=body)).status_code
                return (await client.get(path, headers=headers)).status_code

            return list(await asyncio.gather(*(one(p, t) for p, t in calls)))

    return asyncio.run(main())


def _commits(world: World) -> list[int]:
    seen = [0]

    def count(*_: Any) -> None:
        seen[0] += 1

    event.listen(world.engine, "commit", count)
    return seen


def _audited(world: World, action: str) -> list[set[int]]:
    with world.sessions() as s:
        blobs = s.scalars(select(AuditEvent.subjects).where(AuditEvent.action == action))
        return [set(decode_subjects(b)) for b in blobs]


def test_requests_arriving_together_commit_together(world: World) -> None:
    ids = world.people(8)
    world.assign(world.processor("lingua"), ids)
    token, app = world.key("lingua"), world.app()
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    commits = _commits(world)
    calls = [(f"{SUBJECTS}/{pseudo.encode(i)}", token) for i in ids]
    calls += [(f"{SUBJECTS}/{pseudo.encode(i)}/events", token) for i in ids[:2]]
    codes = _together(app, calls)
    assert codes == [200] * 8 + [201] * 2
    if world.engine.dialect.name == "sqlite":
        assert commits[0] < 10, commits  # one commit served several requests
    assert sorted(min(people) for people in _audited(world, "subject:read")) == ids
    assert sorted(min(people) for people in _audited(world, "subject:write")) == ids[:2]
    with world.sessions() as s:
        written = s.scalars(select(SubjectEvent.subject_id).order_by(SubjectEvent.subject_id))
        assert list(written) == ids[:2]
    verify_trail(world.engine, public_key=world.secrets.verify_key)


def test_a_refused_request_leaves_its_group_as_if_alone(world: World) -> None:
    ids = world.people(4)
    world.assign(world.processor("lingua", per_day=3), ids)
    token, app = world.key("lingua"), world.app()
    pid = world.processor_id("lingua")
    pseudo = Pseudonymiser(world.secrets, pid)
    unknown = Pseudonymiser(world.secrets, pid + 99).encode(ids[0])
    calls = [(f"{SUBJECTS}/{pseudo.encode(i)}", token) for i in ids]
    calls += [(f"{SUBJECTS}/{unknown}", token), (f"{SUBJECTS}/{pseudo.encode(ids[0])}", "nope")]
    codes = _together(app, calls)
    assert Counter(codes) == {200: 3, 429: 1, 404: 1, 401: 1}
    granted = {i for i, code in zip(ids, codes, strict=False) if code == 200}
    assert sorted(p for people in _audited(world, "subject:read") for p in people) == sorted(
        granted
    )
    with world.sessions() as s:
        assert budget.usage(s, processor_id=pid, on=world.now.date()) == (3, 3)
        denied = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "access:denied")
        )
    assert denied == 3
    verify_trail(world.engine, public_key=world.secrets.verify_key)


def test_the_event_loop_stays_free_while_a_group_waits_for_the_database(world: World) -> None:
    """On SQLite the group runs in the writer thread: while it waits for a write lock held
    elsewhere (a long CLI import, say), the worker still answers health checks."""
    if world.engine.dialect.name != "sqlite":
        return  # PostgreSQL requests run alone in the thread pool
    ids = world.people(1)
    world.assign(world.processor("lingua"), ids)
    token, app = world.key("lingua"), world.app()
    path = f"{SUBJECTS}/{Pseudonymiser(world.secrets, world.processor_id('lingua')).encode(ids[0])}"
    holder = sqlite3.connect(str(world.engine.url.database), timeout=1)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database

    async def main() -> tuple[int, bool, int]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            read = asyncio.create_task(
                client.get(path, headers={"Authorization": f"Bearer {token}"})
            )
            await asyncio.sleep(0.2)  # the read is now waiting for the lock
            health = await client.get("/api/v1/health")
            waiting = not read.done()
            holder.commit()  # the other writer is done
            return health.status_code, waiting, (await read).status_code

    try:
        health, waiting, read = asyncio.run(main())
    finally:
        holder.close()
    assert (health, waiting, read) == (200, True, 200)


class _Seen:
    """An observer keeping what it is shown (a detector that never objects)."""

    def __init__(self) -> None:
        self.accesses: list[Any] = []

    def admit(self, session: Any, *, processor_id: int, key_id: int, at: Any) -> None:
        return None

    def observe(self, session: Any, access: Any) -> None:
        self.accesses.append(access)


def test_a_group_chains_its_events_together_each_with_its_own_number(world: World) -> None:
    """The group's audit events are appended at its end (vigie.gateway.audit_batch): each
    request still gets the number of its own event, and the trail and index verify."""
    ids = world.people(6)
    world.assign(world.processor("lingua"), ids)
    token, seen = world.key("lingua"), _Seen()
    app = world.app(observers=[seen])
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    calls = [(f"{SUBJECTS}/{pseudo.encode(i)}", token) for i in ids]
    calls.append((f"{SUBJECTS}?limit=3", token))
    assert _together(app, calls) == [200] * 7
    with world.sessions() as s:
        events = {
            seq: (action, set(decode_subjects(blob)))
            for seq, action, blob in s.execute(
                select(AuditEvent.seq, AuditEvent.action, AuditEvent.subjects)
            )
        }
    assert len(seen.accesses) == 7
    for access in seen.accesses:
        action = "subject:list" if access.kind == "list" else "subject:read"
        assert events[access.audit_seq] == (action, set(access.subject_ids))
    assert len({a.audit_seq for a in seen.accesses}) == 7
    verify_trail(world.engine, public_key=world.secrets.verify_key)
