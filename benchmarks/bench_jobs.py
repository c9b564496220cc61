"""The job queue's own cost: what a job costs beyond its work, and an idle worker's poll.

On a fresh SQLite store (and on PostgreSQL when ``BENCH_POSTGRES_URL`` is set, in a
schema of its own, dropped after), measures:

1. ``enqueue`` of ``BENCH_JOBS`` jobs (default 2,000), one transaction each, as the CLI
   and the console queue them;
2. one worker draining them, each job a no-op reporting one progress step: the queue's
   overhead per job (peek, claim, heartbeat thread, progress, finish);
3. an idle worker's poll (``has_stale`` and ``has_queued`` of :mod:`vigie.jobs.queue`)
   once those jobs are done, and with ``BENCH_FINISHED`` more finished jobs in the table
   (default 100,000): a poll must stay an index probe however long the history.

Usage: ``python -m benchmarks jobs`` (``BENCH_JOBS=500`` for a quick run).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import create_engine, insert, text

from vigie.jobs import queue
from vigie.jobs.context import JobContext
from vigie.jobs.kinds import Kind
from vigie.jobs.models import Job
from vigie.jobs.worker import Worker
from vigie.secrets import ensure_secrets, load_secrets
from vigie.settings import isolated_settings
from vigie.store.base import utcnow
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade
from vigie.store.models import load_metadata


def _noop(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.progress("working", 1, 1)
    return {}


KINDS = MappingProxyType({"bench.noop": Kind("bench.noop", _noop, "does nothing")})


def _run(label: str, url: str, data: Path, jobs: int, finished: int) -> None:
    settings = isolated_settings(data_dir=data, database_url=url)
    ensure_secrets(settings.resolved_secrets_dir)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    print(f"{label}:")
    start = time.perf_counter()
    for _ in range(jobs):
        with sessions.begin() as s:
            queue.enqueue(s, kind="bench.noop", params={}, actor="operator:bench")
    took = time.perf_counter() - start
    print(f"  enqueue, one transaction each      {jobs / took:10,.0f} jobs/s")
    worker = Worker(
        settings=settings,
        secrets=load_secrets(settings.resolved_secrets_dir),
        engine=engine,
        kinds=KINDS,
    )
    start = time.perf_counter()
    ran = worker.run(once=True)
    took = time.perf_counter() - start
    assert ran == jobs, ran
    print(f"  one worker, no-op jobs end to end  {jobs / took:10,.0f} jobs/s "
          f"({took / jobs * 1000:.2f} ms of queue per job)")  # fmt: skip
    for extra in (0, finished):
        if extra:
            now = utcnow()
            rows = [
                {"kind": "bench.noop", "params": {}, "state": "done", "actor": "operator:bench",
                 "created_at": now, "finished_at": now, "attempts": 1}
                for _ in range(extra)
            ]  # fmt: skip
            with sessions.begin() as s:
                s.execute(insert(Job), rows)
        samples = []
        for _ in range(200):
            t = time.perf_counter()
            with sessions() as s:
                assert not queue.has_stale(s, stale_after=120) and not queue.has_queued(s)
            samples.append(time.perf_counter() - t)
        total = jobs + extra
        p50 = statistics.median(samples) * 1000
        print(f"  idle poll, {total:>7,} finished jobs     p50 {p50:8.3f} ms")
    worker.close()
    engine.dispose()


def main() -> None:
    jobs = int(os.environ.get("BENCH_JOBS", "2000"))
    finished = int(os.environ.get("BENCH_FINISHED", "100000"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "jobs.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        _run("SQLite", f"sqlite:///{path}", Path(tmp), jobs, finished)
        pg = os.environ.get("BENCH_POSTGRES_URL")
        if not pg:
            print("PostgreSQL: skipped (set BENCH_POSTGRES_URL)")
            return
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(pg)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            scoped = make_engine(pg, connect_args={"options": f"-csearch_path={schema}"})
            load_metadata().create_all(scoped)
            scoped.dispose()
            _run("PostgreSQL", f"{pg}?options=-csearch_path%3D{schema}", Path(tmp), jobs, finished)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
