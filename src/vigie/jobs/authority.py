"""The authority pack as a job: ``vigie incident authority-pack`` run by a worker.

Preparing the pack (GDPR Art. 33(3)) verifies the whole audit trail and its served index
first — minutes on a large trail, too long for a request. :func:`submit_authority_pack`
queues it (audited as ``job:submit``, with the operator as actor), refused while another
pack of the same incident waits or runs. :func:`run_authority_pack` is what the worker
runs: the evidence gate with its progress in events, holding no lock
(:func:`vigie.audit.evidence.verify_ahead`), then, in one short transaction,
:func:`vigie.breach.authority.prepare_pack` — which first checks under the chain head's
lock that the trail still holds what was verified. A refusal of the gate fails the job
with the gate's words (its ``error``), and nothing is prepared.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import Denied
from vigie.jobs.context import JobContext
from vigie.jobs.models import FINAL, Job
from vigie.jobs.queue import enqueue, list_jobs

AUTHORITY_PACK = "incident.authority-pack"
VERIFYING = "verifying the audit trail"
PREPARING = "preparing the pack"


def pack_jobs(session: Session, *, incident_id: int, limit: int = 200) -> list[Job]:
    """The authority packs queued for ``incident_id``, newest first."""
    return [
        job
        for job in list_jobs(session, kind=AUTHORITY_PACK, limit=limit)
        if job.params.get("incident_id") == incident_id
    ]


def submit_authority_pack(
    session: Session, *, incident_id: int, actor: str, complementary: bool = False
) -> Job:
    """Queue the preparation of the incident's authority pack (a new phase with
    ``complementary``), audited as ``job:submit`` in the caller's transaction."""
    from vigie.breach import incidents

    incidents.get_incident(session, incident_id=incident_id)
    busy = [j for j in pack_jobs(session, incident_id=incident_id) if j.state not in FINAL]
    if busy:
        raise Denied(
            f"an authority pack of incident {incident_id} is already {busy[0].state} "
            f"(job {busy[0].id})"
        )
    params = {"incident_id": incident_id, "complementary": complementary}
    job = enqueue(session, kind=AUTHORITY_PACK, params=params, actor=actor)
    trail.append(
        session,
        action=Action.JOB_SUBMIT,
        actor=actor,
        detail={"job_id": job.id, "kind": job.kind, "incident_id": incident_id},
    )
    return job


def run_authority_pack(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Verify the trail (progress in events), then prepare the pack; the result names
    the phase prepared and how many events the gate verified."""
    from vigie.audit.anchors import Bound
    from vigie.audit.evidence import verify_ahead
    from vigie.audit.models import HEAD
    from vigie.breach.authority import prepare_pack

    incident_id = int(params["incident_id"])
    with ctx.sessions() as session:
        total = session.scalar(select(HEAD.c.size).where(HEAD.c.id == 1)) or 0
    ctx.progress(VERIFYING, 0, total)
    verified = verify_ahead(
        ctx.engine,
        public_key=ctx.secrets.audit_keys,
        bound=Bound.of(ctx.settings),
        purpose="the authority pack",
        progress=lambda n: ctx.progress(VERIFYING, n, max(n, total)),
    )
    ctx.progress(PREPARING)
    with ctx.sessions.begin() as session:
        row = prepare_pack(
            session,
            ctx.settings,
            incident_id=incident_id,
            actor=ctx.actor,
            audit_key=ctx.secrets.verify_key,
            audit_keys=ctx.secrets.audit_keys,
            complementary=bool(params.get("complementary")),
            verified=verified,
        )
        phase = row.phase
    return {"incident_id": incident_id, "phase": phase, "events_verified": verified.size}
