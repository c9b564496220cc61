"""The group commit of queued requests: requests that arrive together share a transaction,
each answer waits for its commit, and a failed commit refuses every request alike."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import anyio
from sqlalchemy import func, select, text

from tests.public.conftest import Public
from vigie.jobs.models import Job
from vigie.jobs.queue import job_row, push_rows
from vigie.public.group_commit import GroupCommit


def test_requests_that_arrive_together_share_a_transaction(public: Public) -> None:
    batches: list[int] = []

    def write(rows: Sequence[dict[str, Any]]) -> None:
        with public.sessions.begin() as session:
            push_rows(session, rows)
        batches.append(len(rows))

    writer = GroupCommit(write)

    async def many() -> None:
        rows = [job_row(kind="public.self-check", params={"n": i}, actor="t") for i in range(50)]
        await asyncio.gather(*(writer.put(row) for row in rows))

    try:
        anyio.run(many)
    finally:
        writer.close()
    assert sum(batches) == 50 and len(batches) < 50  # batched, nothing lost
    with public.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 50


def test_a_failed_commit_refuses_every_request_of_the_batch(public: Public) -> None:
    def write(rows: Sequence[dict[str, Any]]) -> None:
        raise RuntimeError("the store is gone")

    writer = GroupCommit(write)

    async def many() -> list[BaseException | None]:
        rows = [job_row(kind="public.self-check", params={"n": i}, actor="t") for i in range(5)]
        got = await asyncio.gather(*(writer.put(row) for row in rows), return_exceptions=True)
        return list(got)

    try:
        results = anyio.run(many)
    finally:
        writer.close()
    assert all(isinstance(r, RuntimeError) for r in results)


def test_the_service_refuses_alike_when_the_queue_cannot_be_written(public: Public) -> None:
    with public.engine.begin() as conn:
        conn.execute(text("DROP TABLE jobs"))
    with public.client() as c:
        known = c.post("/json/self-check", json={"contact": "grace.mensah@example.org"})
        unknown = c.post("/json/self-check", json={"contact": "nobody@example.org"})
        page = c.post("/my-file", data={"contact": "nobody@example.org", "lang": "en"})
    assert known.status_code == unknown.status_code == 503
    assert known.json()["type"] == unknown.json()["type"]
    assert page.status_code == 503
