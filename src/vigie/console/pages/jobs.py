"""What the leaks and audit pages share about a background job: its progress, formatted.

A job's page polls itself with htmx while the job waits or runs (the same route renders
the page whole, or only the progress block for htmx); without JavaScript, reloading the
page shows the same block.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from vigie.console.i18n import N_, Formatter
from vigie.console.state import Console
from vigie.errors import NotFound
from vigie.jobs.models import FINAL, Job, JobState
from vigie.jobs.queue import get_job

STATES = {
    JobState.QUEUED: N_("waiting for a worker"),
    JobState.RUNNING: N_("running"),
    JobState.DONE: N_("finished"),
    JobState.FAILED: N_("failed"),
    JobState.CANCELLED: N_("cancelled"),
}


def job_values(
    job: Job,
    fmt: Formatter,
    *,
    poll: str,
    facts: list[tuple[str, str]] | None = None,
    link: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A job's state and progress as the partial ``partials/job.html`` shows them, with
    what its page says of its result (``facts``, a ``link`` onwards)."""
    percent = None
    if job.total and job.done is not None:
        percent = min(100, int(100 * job.done / job.total))
    return {
        "id": job.id,
        "state": job.state,
        "state_text": fmt.gettext(STATES[JobState(job.state)]),
        "final": job.state in FINAL,
        "phase": job.phase or "",
        "done": fmt.number(job.done) if job.done is not None else "",
        "total": fmt.number(job.total) if job.total is not None else "",
        "percent": percent,
        "created": fmt.when(job.created_at),
        "finished": fmt.when(job.finished_at),
        "actor": job.actor,
        "error": job.error or "",
        "poll": poll,
        "facts": facts or [],
        "link": link,
    }


def load_job(console: Console, *, job_id: int, kind: str) -> Job:
    """Job ``job_id`` if it is of ``kind`` (another kind is not found here)."""
    with console.sessions() as db:
        job = get_job(db, job_id=job_id)
        if job.kind != kind:
            raise NotFound(f"no job {job_id} here")
        db.expunge(job)
        return job


def wants_partial(request: Request) -> bool:
    """Whether htmx asks for the progress block alone."""
    return request.headers.get("hx-request") == "true"
