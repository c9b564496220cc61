"""Job kinds for the tests, and worker bodies for spawned children (importable by spawn).

Each kind does one thing a real job may do — report progress, fail, crash with a
library's message, cancel itself as an operator would, or block — so the worker's
handling of each is tested on the real queue without a leak analysis behind it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from vigie.errors import InvalidInput
from vigie.jobs import queue
from vigie.jobs.context import JobContext
from vigie.jobs.kinds import Kind
from vigie.jobs.worker import Worker, stop_on_signals
from vigie.secrets import load_secrets
from vigie.settings import Settings

LEAKED_VALUE = "camille.martin@example.org"


def steps(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Report two steps; read its own row, as a page would, between them."""
    ctx.progress("first", 1, 2)
    with ctx.sessions() as session:
        job = queue.get_job(session, job_id=ctx.job_id)
        seen = [job.state, job.phase, job.done, job.total]
    ctx.progress("second", 2, 2)
    return {"seen": seen, "echo": params.get("n")}


def refuse(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    raise InvalidInput("leak.csv line 3: not a CSV row")


def crash(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    raise ValueError(f"could not convert {LEAKED_VALUE!r} to a date")


def unstorable(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"ids": {1, 2}}  # a set: not JSON


def self_cancel(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Loop on progress; at step 2 an operator (another session) cancels the job."""
    for i in range(100):
        if i == 2:
            with ctx.sessions.begin() as session:
                queue.cancel(session, job_id=ctx.job_id, actor="operator:dpo")
        ctx.progress(f"step {i}")
    return {"finished": True}


def block(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Say it started, then report progress until the file ``until`` exists (or it is
    stopped or killed)."""
    ctx.progress("started")
    while not Path(params["until"]).exists():
        time.sleep(0.05)
        ctx.progress("started")
    return {"released": True}


def record(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Append one line per run to a shared log: a job run twice shows twice."""
    with open(params["log"], "a", encoding="utf-8") as log:
        log.write(f"{ctx.job_id}\n")
    ctx.progress("recorded", 1, 1)
    return {"pid": os.getpid()}


KINDS = MappingProxyType(
    {
        k.name: k
        for k in (
            Kind("test.steps", steps, "two progress steps"),
            Kind("test.refuse", refuse, "a Vigie error"),
            Kind("test.crash", crash, "a library error quoting a leaked value"),
            Kind("test.unstorable", unstorable, "a result that is not JSON"),
            Kind("test.self_cancel", self_cancel, "cancelled while running"),
            Kind("test.block", block, "runs until stopped"),
            Kind("test.record", record, "logs each run"),
        )
    }
)


def run_worker(url: str, data_dir: str, once: bool, start: Any = None) -> None:
    """A ``vigie worker`` with the test kinds, stopped by SIGTERM (child process body);
    it waits for ``start`` (an event) if given."""
    if start is not None:
        start.wait()
    settings = Settings(data_dir=Path(data_dir), database_url=url, jobs_poll_seconds=0.05)
    worker = Worker(
        settings=settings, secrets=load_secrets(settings.resolved_secrets_dir), kinds=KINDS
    )
    try:
        with stop_on_signals(worker):
            worker.run(once=once)
    finally:
        worker.close()
