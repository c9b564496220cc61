"""The notice campaign as a job: ``vigie incident notify`` run by a worker.

:func:`submit_notice_campaign` checks, before anything is queued, that the risk
assessment (or the DPO's override of it) calls for notices and that no other campaign of
the incident is waiting or running, and puts the request on the incident's timeline
(audited, with the operator as actor). :func:`run_notice_campaign` is what the worker
runs: the CLI's :func:`vigie.breach.notify.send_notices`, behind the same evidence gate,
with the same delivery log — so a campaign started in the console and one started in a
terminal resume each other, and nothing is sent twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from vigie.errors import Denied, InvalidInput
from vigie.jobs.context import Cancelled, Interrupted, JobContext
from vigie.jobs.models import FINAL, Job
from vigie.jobs.queue import LeaseLost, enqueue, list_jobs

NOTIFY = "incident.notify"


def campaign_jobs(session: Session, *, incident_id: int, limit: int = 200) -> list[Job]:
    """The notice campaigns queued for ``incident_id``, newest first."""
    return [
        job
        for job in list_jobs(session, kind=NOTIFY, limit=limit)
        if job.params.get("incident_id") == incident_id
    ]


def submit_notice_campaign(session: Session, *, incident_id: int, channel: str, actor: str) -> Job:
    """Queue the sending of an incident's notices on ``channel`` (or ``all``), audited."""
    from vigie.breach import incidents
    from vigie.breach.channels import channel_names
    from vigie.breach.notify import require_decision

    try:
        names = channel_names(channel)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    incidents.get_incident(session, incident_id=incident_id)
    require_decision(session, incident_id=incident_id, despite_assessment=None)
    busy = [j for j in campaign_jobs(session, incident_id=incident_id) if j.state not in FINAL]
    if busy:
        raise Denied(
            f"a notice campaign of incident {incident_id} is already {busy[0].state} "
            f"(job {busy[0].id})"
        )
    job = enqueue(
        session, kind=NOTIFY, params={"incident_id": incident_id, "channel": channel}, actor=actor
    )
    incidents.record_decision(
        session,
        incident_id=incident_id,
        kind="notify_queued",
        summary=f"notice campaign queued (job {job.id}; channels: {', '.join(names)})",
        actor=actor,
        detail={"job_id": job.id, "channels": list(names)},
    )
    return job


class _Stop:
    """Asked between two notices: reports progress to the job, and remembers why to stop.

    The job's progress call raises when the job must stop (cancelled, worker stopping,
    lease lost); here that becomes ``send_notices``'s clean stop between two notices, and
    the exception is raised again once the run has recorded where it stopped.
    """

    def __init__(self, ctx: JobContext, total: int) -> None:
        self.ctx = ctx
        self.done = 0
        self.total = total
        self.reason: BaseException | None = None

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def __call__(self) -> bool:
        try:
            self.ctx.progress("sending notices", self.done, self.total)
        except (Cancelled, Interrupted, LeaseLost) as exc:
            self.reason = exc
        return self.reason is not None


def run_notice_campaign(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Send the incident's remaining notices; the result is the run's counts."""
    from vigie.audit.anchors import Bound
    from vigie.breach import incidents
    from vigie.breach.channels import channel_names, from_settings
    from vigie.breach.notify import context_for, send_notices

    incident_id = int(params["incident_id"])
    names = channel_names(str(params["channel"]))
    with ctx.sessions() as session:
        context = context_for(ctx.settings, session, incident_id=incident_id)
        total = incidents.exposure_count(session, incident_id=incident_id)
    stop = _Stop(ctx, total)
    ctx.progress("sending notices", 0, total)
    report = send_notices(
        ctx.sessions,
        incident_id=incident_id,
        context=context,
        channels=from_settings(ctx.settings, names=names, incident_id=incident_id),
        secrets=ctx.secrets,
        lock_dir=ctx.settings.data_dir / "locks",
        actor=ctx.actor,
        bound=Bound.of(ctx.settings),
        progress=stop.progress,
        should_stop=stop,
    )
    if stop.reason is not None:
        raise stop.reason
    ctx.progress("sending notices", stop.done, stop.total)  # the last step, at once
    return {"incident_id": incident_id, **report.as_dict()}
