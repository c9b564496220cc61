"""`vigie worker` runs background jobs; `vigie jobs` lists, shows and cancels them."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from vigie.cli.context import console, err_console, instance, print_json
from vigie.cli.processors import operator
from vigie.jobs.models import JobState
from vigie.jobs.queue import cancel, get_job, job_dict, list_jobs, queue_depth

group = typer.Typer(
    help="Background jobs (leak analyses, audit verifications, and the periodic jobs of "
    "`vigie jobs schedule`) queued in the store and run by `vigie worker` (one runs inside "
    "`vigie serve`). Queue one with `--background` on `vigie leak analyze` or "
    "`vigie audit verify`. See docs/jobs.md.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def worker(
    ctx: typer.Context,
    once: bool = typer.Option(
        False, "--once", help="Run the jobs queued now, then exit instead of waiting for more."
    ),
    parent: int | None = typer.Option(None, "--parent", hidden=True),
) -> None:
    """Run queued jobs one at a time until stopped.

    SIGTERM or Ctrl-C stops it gracefully: the running job goes back to the queue at its
    next progress report (a second signal ends it at once). Jobs whose worker died are
    queued again once their heartbeat is `jobs_stale_after_seconds` old, up to
    `jobs_max_attempts` runs. Run as many workers as you like, on any host that reaches
    the store: a job is only ever claimed by one.
    """
    from vigie.jobs.spawn import follow_parent
    from vigie.jobs.worker import Worker, stop_on_signals

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    inst = instance(ctx)
    runner = Worker(settings=inst.settings, secrets=inst.secrets, engine=inst.engine)
    if parent is not None:
        follow_parent(parent, runner.stop)
    err_console.print(f"job worker {runner.worker_id} started", highlight=False)
    try:
        with stop_on_signals(runner):
            ran = runner.run(once=once)
    finally:
        runner.close()
    err_console.print(f"job worker {runner.worker_id} stopped after {ran} job(s)", highlight=False)


def _progress(row: dict[str, object]) -> str:
    p = row["progress"]
    assert isinstance(p, dict)
    if p["phase"] is None:
        return ""
    if p["total"]:
        return f"{p['phase']} {p['done'] or 0}/{p['total']}"
    return str(p["phase"])


@group.command("list")
def list_command(
    ctx: typer.Context,
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None,
    kind: str | None = typer.Option(None, help="Only jobs of this kind (e.g. leak.analyze)."),
    limit: int = typer.Option(50, min=1, help="Show at most this many (newest first)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List jobs, newest first, with their state and progress, and the queue's depth."""
    inst = instance(ctx)
    with inst.session() as session:
        rows = [job_dict(j) for j in list_jobs(session, state=state, kind=kind, limit=limit)]
        depth = queue_depth(session)
    if as_json:
        print_json({"depth": depth, "jobs": rows})
        return
    table = Table("id", "kind", "state", "progress", "actor", "created (UTC)", "attempts")
    for r in rows:
        table.add_row(
            str(r["id"]),
            Text(str(r["kind"])),
            str(r["state"]),
            Text(_progress(r)),
            Text(str(r["actor"])),
            str(r["created_at"])[:19].replace("T", " "),
            str(r["attempts"]),
        )
    console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in depth.items()), highlight=False)


@group.command("schedule")
def schedule_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show the periodic jobs the workers queue: each one's interval (from its setting; 0
    is off), when it is next due, and the last job it queued with that job's state.

    Of several workers, exactly one queues a due job (docs/jobs.md, the schedule).
    """
    from vigie.jobs.schedule import entries

    inst = instance(ctx)
    with inst.session() as session:
        rows = [
            {
                "name": e.name,
                "kind": e.kind,
                "every_seconds": e.every_seconds,
                "setting": e.setting,
                "next_due_at": e.next_due_at.isoformat() if e.next_due_at else None,
                "last_job_id": e.last_job_id,
                "last_state": e.last_state,
                "enqueued_by": e.enqueued_by,
            }
            for e in entries(session, settings=inst.settings)
        ]
    if as_json:
        print_json({"schedule": rows})
        return
    table = Table("name", "kind", "every", "next due (UTC)", "last job", "setting")
    for r in rows:
        every = f"{r['every_seconds']:g} s" if r["every_seconds"] else "off"
        due = str(r["next_due_at"] or "at the next worker poll")[:19].replace("T", " ")
        last = f"#{r['last_job_id']} {r['last_state']}" if r["last_job_id"] else ""
        table.add_row(str(r["name"]), Text(str(r["kind"])), every, due, last, str(r["setting"]))
    console.print(table)


@group.command("show")
def show_command(
    ctx: typer.Context,
    job_id: int = typer.Argument(..., help="The job's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one job: parameters, progress, result or error, timings."""
    inst = instance(ctx)
    with inst.session() as session:
        row = job_dict(get_job(session, job_id=job_id))
    if as_json:
        print_json(row)
        return
    for name in ("id", "kind", "state", "actor", "attempts", "worker_id"):
        console.print(Text(f"{name}: {row[name]}"))
    console.print(Text(f"progress: {_progress(row) or '—'}"))
    for name in ("created_at", "started_at", "heartbeat_at", "finished_at"):
        console.print(Text(f"{name}: {row[name] or '—'}"))
    console.print(Text(f"params: {row['params']}"))
    if row["result"] is not None:
        console.print(Text(f"result: {row['result']}"))
    if row["error"]:
        console.print(Text(f"error: {row['error']}", style="red"))


@group.command("cancel")
def cancel_command(
    ctx: typer.Context, job_id: int = typer.Argument(..., help="The job's id.")
) -> None:
    """Cancel a job: a queued one at once, a running one at its next progress report.

    Audited (`job:cancel`) with you as the actor.
    """
    inst = instance(ctx)
    with inst.session() as session:
        job = cancel(session, job_id=job_id, actor=operator())
        state = job.state
    if state == JobState.CANCELLED:
        console.print(f"Job {job_id} cancelled.")
    else:
        console.print(f"Job {job_id} is running: it stops at its next progress report.")


def register(app: typer.Typer) -> None:
    """Add `vigie worker` and `vigie jobs` to ``app``."""
    app.command("worker")(worker)
    app.add_typer(group, name="jobs")
