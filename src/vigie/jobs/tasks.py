"""The work behind each job kind, and how each is submitted.

Each ``submit_*`` function checks its arguments and queues a job whose parameters are
ids and absolute paths only; each ``run_*`` function is what a worker runs for it: the
same library call the CLI makes, with its progress fed into the job's.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import InvalidInput
from vigie.jobs.context import Cancelled, JobContext
from vigie.jobs.models import Job
from vigie.jobs.queue import enqueue

LEAK_ANALYZE = "leak.analyze"
AUDIT_VERIFY = "audit.verify"
LEAK_OUTPUTS = ("json_out", "html_out", "affected_out")


def submit_leak_analysis(
    session: Session,
    *,
    paths: list[Path],
    actor: str,
    outputs: dict[str, Path | None] | None = None,
    uploaded: bool = False,
    explain: bool = False,
) -> Job:
    """Queue the analysis of leaked files (``vigie leak analyze``) for a worker.

    ``outputs`` may name where to write the report (``json_out``, ``html_out``,
    ``affected_out``), as the CLI options do. Paths are stored absolute: the worker may
    run from another directory. ``uploaded``: the paths are sealed uploads
    (:mod:`vigie.leaks.uploads`), opened by the worker and deleted when the job ends.
    Audited (``job:submit``) in the caller's transaction.
    """
    if not paths:
        raise InvalidInput("give at least one leaked file")
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise InvalidInput(f"no such file: {missing[0]}")
    params: dict[str, Any] = {"paths": [str(Path(p).resolve()) for p in paths]}
    if uploaded:
        params["uploaded"] = True
    if explain:
        params["explain"] = True  # why each row was linked, kept in the report
    for name, where in (outputs or {}).items():
        if name not in LEAK_OUTPUTS:
            raise InvalidInput(f"unknown leak report output {name!r}")
        if where is not None:
            params[name] = str(Path(where).resolve())
    job = enqueue(session, kind=LEAK_ANALYZE, params=params, actor=actor)
    _submitted(session, job, files=len(paths))
    return job


def _submitted(session: Session, job: Job, **counts: int) -> None:
    trail.append(
        session,
        action=Action.JOB_SUBMIT,
        actor=job.actor,
        detail={"job_id": job.id, "kind": job.kind, **counts},
    )


def run_leak_analysis(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Analyse the files, keep the report encrypted (audited), write the outputs asked.

    Purge and storage are short write transactions; the analysis itself reads through
    ``ctx.reader`` so that SQLite stays writable for the minutes it takes.
    """
    from vigie.leaks.analyze import analyze
    from vigie.leaks.uploads import discard, opened, purge_uploads
    from vigie.leaks.vault import purge, store_report

    paths = [Path(p) for p in params["paths"]]
    uploaded = bool(params.get("uploaded"))
    with ctx.sessions.begin() as session:
        purge(session, actor=ctx.actor)
    purge_uploads(ctx.settings)
    try:
        with ExitStack() as stack:
            if uploaded:
                ctx.progress("opening the uploaded file")
                paths = [
                    stack.enter_context(opened(p, settings=ctx.settings, secrets=ctx.secrets))
                    for p in paths
                ]
            with Session(ctx.reader) as session, session.begin():
                report = analyze(
                    session,
                    paths=paths,
                    secrets=ctx.secrets,
                    settings=ctx.settings,
                    progress=ctx.progress,
                    explain=bool(params.get("explain")),
                )
    except (Exception, Cancelled):
        # Failed or cancelled: the upload goes (a worker's restart keeps it for the retry).
        if uploaded:
            for p in params["paths"]:
                discard(Path(p), settings=ctx.settings)
        raise
    ctx.progress("storing the report")
    with ctx.sessions.begin() as session:
        report.stored_id = store_report(
            session, report=report, secrets=ctx.secrets, settings=ctx.settings, actor=ctx.actor
        )
    if uploaded:
        for p in params["paths"]:
            discard(Path(p), settings=ctx.settings)
    written = {}
    for name, write in (
        ("json_out", report.write_json),
        ("html_out", report.write_html),
        ("affected_out", report.write_affected_csv),
    ):
        if params.get(name):
            write(Path(params[name]))
            written[name] = params[name]
    return {
        "analysis_id": report.stored_id,
        "verdict": report.verdict,
        "rows": report.rows,
        "matched_rows": report.matched_rows,
        "affected_subjects": report.affected_subjects,
        "attributed_processor_ids": [a["processor_id"] for a in report.attribution],
        "outputs": written,
    }


def submit_audit_verification(session: Session, *, actor: str) -> Job:
    """Queue a verification of the whole audit trail (``vigie audit verify``); audited
    (``job:submit``) in the caller's transaction."""
    job = enqueue(session, kind=AUDIT_VERIFY, params={}, actor=actor)
    _submitted(session, job)
    return job


def run_audit_verification(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Verify the trail with progress in events; a fault fails the job, naming it."""
    from vigie.audit.anchors import Bound, unanchored
    from vigie.audit.models import HEAD
    from vigie.audit.verify import verify_trail

    with ctx.sessions() as session:
        total = session.scalar(select(HEAD.c.size).where(HEAD.c.id == 1)) or 0
    ctx.progress("verifying", 0, total)
    report = verify_trail(
        ctx.engine,
        public_key=ctx.secrets.audit_keys,
        progress=lambda n: ctx.progress("verifying", n, max(n, total)),
    )
    now_us = time.time_ns() // 1000
    reason = unanchored(report.tail, bound=Bound.of(ctx.settings), now_us=now_us)
    return {
        "ok": True,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "anchored": reason is None,
        "unanchored": reason,
        "unanchored_events": report.tail.events,
        "index_rows": report.index_rows,
        "canaries": report.canaries,
        "processors": report.processors,
        "head_hash": report.head_hash.hex(),
        "root": report.root.hex(),
        "seconds": round(report.seconds, 3),
    }
