"""Budgets hold under real concurrency: several processes, many clients, SQLite and PostgreSQL.

Two shapes, both without mocks:

- several OS processes, each building the gateway app from the same settings and firing
  concurrent requests at it (the library under concurrent writers);
- a real ``vigie serve --workers 2`` on loopback hit by several client processes.

Every client asks for distinct people well beyond the budget; afterwards exactly
``budget`` distinct people were answered with 200, the ledger says the same, and the
audit trail holds exactly those people.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.gateway.conftest import World
from tests.gateway.serving import serving
from vigie.audit.canonical import decode_subjects
from vigie.audit.models import AuditEvent
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway import budget
from vigie.store.base import utcnow

BUDGET = 25
SCOPE = 60


def _library_client(
    data_dir: str, database_url: str, token: str, pseudonyms: list[str], out: multiprocessing.Queue
) -> None:
    """One process: the real app (from settings), 8 concurrent in-process clients."""
    from vigie.gateway.app import create_app
    from vigie.settings import Settings

    app = create_app(Settings(data_dir=Path(data_dir), database_url=database_url))

    async def main() -> list[tuple[str, int]]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.20", 1))
        headers = {"Authorization": f"Bearer {token}"}
        sem = asyncio.Semaphore(8)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:

            async def one(p: str) -> tuple[str, int]:
                async with sem:
                    r = await client.get(f"/api/v1/subjects/{p}", headers=headers)
                    return p, r.status_code

            return list(await asyncio.gather(*(one(p) for p in pseudonyms)))

    out.put(asyncio.run(main()))


def _http_client(base: str, token: str, pseudonyms: list[str], out: multiprocessing.Queue) -> None:
    """One process: 6 concurrent HTTP clients against a real server."""

    async def main() -> list[tuple[str, int]]:
        headers = {"Authorization": f"Bearer {token}"}
        sem = asyncio.Semaphore(6)
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:

            async def one(p: str) -> tuple[str, int]:
                async with sem:
                    r = await client.get(f"/api/v1/subjects/{p}", headers=headers)
                    return p, r.status_code

            return list(await asyncio.gather(*(one(p) for p in pseudonyms)))

    out.put(asyncio.run(main()))


def _prepare(world: World) -> tuple[str, list[str]]:
    ids = world.people(SCOPE)
    # A high rate and 30-day budget: only the daily budget of distinct people binds.
    world.assign(world.processor("lingua", per_day=BUDGET, per_30_days=10 * BUDGET), ids)
    world.now = utcnow()
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    return token, [pseudo.encode(i) for i in ids]


def _run(target, arg_sets: list[tuple]) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, out)) for args in arg_sets]
    for p in procs:
        p.start()
    results: list[tuple[str, int]] = []
    for _ in procs:
        results += out.get(timeout=180)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return results


def _check(world: World, results: list[tuple[str, int]], pseudonyms: list[str]) -> None:
    assert {code for _, code in results} <= {200, 429}, sorted({c for _, c in results})
    granted = {p for p, code in results if code == 200}
    assert len(granted) == BUDGET
    # A person granted once is granted again (already disclosed today), never refused.
    assert not granted & {p for p, code in results if code == 429}
    pid = world.processor_id("lingua")
    with world.sessions() as s:
        assert budget.usage(s, processor_id=pid, on=utcnow().date())[0] == BUDGET
        audited: set[int] = set()
        for blob in s.scalars(
            select(AuditEvent.subjects).where(AuditEvent.action == "subject:read")
        ):
            audited |= set(decode_subjects(blob))
    decode = Pseudonymiser(world.secrets, pid).decode
    assert audited == {decode(p) for p in granted}


def _slices(pseudonyms: list[str], n: int) -> list[list[str]]:
    # Overlapping, differently ordered slices so that processes race on the same people.
    return [pseudonyms[i * 15 :] + pseudonyms[: i * 15] for i in range(n)]


@pytest.mark.slow
def test_budget_holds_across_processes_calling_the_library(world: World) -> None:
    token, pseudonyms = _prepare(world)
    args = [
        (str(world.settings.data_dir), world.settings.resolved_database_url, token, s)
        for s in _slices(pseudonyms, 3)
    ]
    _check(world, _run(_library_client, args), pseudonyms)


@pytest.mark.slow
def test_budget_holds_against_a_real_multi_worker_server(world: World, tmp_path: Path) -> None:
    token, pseudonyms = _prepare(world)
    log = tmp_path / "serve.log"
    args = ("--workers", "2", "--no-worker", "--log-level", "warning")  # no job worker: no job
    with serving(world.settings, log, *args) as base:
        results = _run(_http_client, [(base, token, s) for s in _slices(pseudonyms, 3)])
    assert "Traceback" not in log.read_text()
    _check(world, results, pseudonyms)
