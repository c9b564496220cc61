"""One incident's page, as plain values: clock, phases, risk, pack, campaign, timeline.

Every figure comes from the breach package's own functions (the ones ``vigie incident
show``, ``authority-pack``, ``notify`` and ``register`` use); this module only formats
them for the operator's language. The routes of :mod:`~vigie.console.pages.incidents`,
:mod:`~vigie.console.pages.authority` and :mod:`~vigie.console.pages.campaign` render
the page with :func:`incident_page`, an error above it when an action was refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from vigie.breach import incidents
from vigie.breach.authority import pack_phases
from vigie.breach.authority_render import render_markdown
from vigie.breach.campaign import STATUSES, CampaignProgress, campaign_progress
from vigie.breach.clock import deadline, time_left
from vigie.breach.models import Incident
from vigie.breach.phases import phases
from vigie.breach.views import incident_row
from vigie.console.guard import Visit
from vigie.console.i18n import N_, Formatter
from vigie.console.pages.common import context
from vigie.console.pages.jobs import job_values
from vigie.console.pages.overview import clock_text
from vigie.console.roles import GRANTS, Need, Role
from vigie.console.state import Console
from vigie.errors import NotFound
from vigie.jobs.authority import pack_jobs
from vigie.jobs.models import FINAL, Job
from vigie.jobs.notices import campaign_jobs
from vigie.public.incident_pages import published_ids

MAX_REASON = 2000
UNREACHABLE_SHOWN = 200
JOBS_SHOWN = 5
PHASE_NAMES = (
    N_("opened"), N_("risk assessed"), N_("authority pack prepared"), N_("notices sent"),
    N_("public page published"), N_("closed"),
)  # fmt: skip
STATUS_NAMES = (N_("sent"), N_("sending"), N_("failed"), N_("bounced"), N_("no_contact"))
JOB_STATES = (N_("queued"), N_("running"), N_("done"), N_("cancelled"))
PACK_PHASES = (N_("verifying the audit trail"), N_("preparing the pack"))
"""The phases of an authority pack job (:data:`vigie.jobs.authority.VERIFYING`, ...)."""
WORDS = (N_("Incident"), N_("Incidents"), N_("Breach register"), N_("open"), N_("closed"))
"""Titles and states that reach the pages as data."""


def _risk(risk: dict[str, Any] | None, fmt: Formatter) -> dict[str, Any] | None:
    if risk is None:
        return None
    override = risk.get("override")
    return {
        "level": fmt.gettext(str(risk.get("level"))),
        "level_key": risk.get("level"),
        "severity": fmt.number(float(risk.get("severity") or 0)),
        "decision": risk.get("decision", ""),
        "notify_authority": bool(risk.get("notify_authority")),
        "notify_people": bool(risk.get("notify_people")),
        "exemption": risk.get("exemption"),
        "factors": [
            {
                "name": f.get("name", ""),
                "rating": fmt.number(f.get("rating", 0)),
                "reason": f.get("reason", ""),
            }
            for f in risk.get("factors", [])
        ],
        "override": (
            {
                "notify_people": bool(override.get("notify_people")),
                "reason": override.get("reason", ""),
                "by": override.get("by", ""),
                "computed_decision": override.get("computed_decision", ""),
            }
            if override
            else None
        ),
    }


def _counts(rows: dict[str, dict[str, int]], fmt: Formatter) -> list[dict[str, Any]]:
    return [
        {"name": name, "counts": [fmt.number(by.get(s, 0)) for s in STATUSES]}
        for name, by in rows.items()
    ]


def _job(job: Job, fmt: Formatter) -> dict[str, Any]:
    done, total = job.done, job.total
    return {
        "id": job.id,
        "state": fmt.gettext(job.state),
        "final": job.state in FINAL,
        "actor": job.actor,
        "created": fmt.when(job.created_at),
        "progress": (
            f"{fmt.number(done)} / {fmt.number(total)}" if done is not None and total else "—"
        ),
        "result": job.result or {},
        "error": job.error or "",
    }


def _campaign(progress: CampaignProgress, jobs: list[Job], fmt: Formatter) -> dict[str, Any]:
    missed = progress.unreachable
    more = max(0, progress.unreachable_count - len(missed))
    return {
        "people": fmt.number(progress.people),
        "started": progress.started,
        "statuses": [fmt.gettext(s) for s in STATUSES],
        "by_channel": _counts(progress.by_channel, fmt),
        "by_language": _counts(progress.by_language, fmt),
        "bounced": fmt.number(progress.bounced),
        "unreachable": [
            {
                "ref": p.ref,
                "language": p.language,
                "reasons": ", ".join(
                    f"{c}: {fmt.gettext(s)}" for c, s in sorted(p.reasons.items())
                ),
            }
            for p in missed
        ],
        "unreachable_count": fmt.number(progress.unreachable_count),
        "unreachable_more": fmt.number(more) if more else "",
        "jobs": [_job(j, fmt) for j in jobs[:JOBS_SHOWN]],
        "running": any(j.state not in FINAL for j in jobs),
    }


def _clock(incident: Incident, now: datetime, fmt: Formatter) -> dict[str, Any]:
    left = time_left(incident.aware_at, now)
    return {
        "id": incident.id,
        "deadline": fmt.when(deadline(incident.aware_at)),
        "left": clock_text(fmt, left),
        "overdue": left < timedelta(0),
    }


def _campaign_of(db: Session, incident_id: int, fmt: Formatter) -> dict[str, Any]:
    progress = campaign_progress(db, incident_id=incident_id, shown=UNREACHABLE_SHOWN)
    return _campaign(progress, campaign_jobs(db, incident_id=incident_id), fmt)


def _authority_of(db: Session, incident_id: int, fmt: Formatter) -> dict[str, Any]:
    """The pack's phases prepared so far, the latest's preview, and the latest pack job
    (its progress while it waits or runs, the gate's refusal when it failed)."""
    packs = pack_phases(db, incident_id=incident_id)
    jobs = pack_jobs(db, incident_id=incident_id, limit=20)
    job = None
    if jobs:
        latest = jobs[0]
        job = job_values(latest, fmt, poll=f"/incidents/{incident_id}?part=authority")
        job["phase"] = fmt.gettext(latest.phase) if latest.phase else ""
    return {
        "packs": [
            {
                "phase": p.phase,
                "prepared": fmt.when(p.prepared_at),
                "kind": p.content.get("phase", {}).get("kind", ""),
            }
            for p in packs
        ],
        "preview": render_markdown(packs[-1].content) if packs else None,
        "job": job,
        "running": job is not None and not job["final"],
    }


def incident_values(console: Console, fmt: Formatter, incident_id: int) -> dict[str, Any]:
    """Everything the incident page shows, formatted for ``fmt``'s language."""
    now = console.clock()
    with console.sessions() as db:
        incident = incidents.get_incident(db, incident_id=incident_id)
        row = incident_row(db, incident, now=now)
        summary = incidents.exposure_summary(db, incident_id=incident.id)
        events = incidents.timeline(db, incident_id=incident.id)
        evidence = incidents.evidence_of(db, incident_id=incident.id)
        values = {
            **_clock(incident, now, fmt),
            "incident_title": incident.title,
            "status": fmt.gettext(incident.status),
            "open": incident.status == "open",
            "source": incident.source,
            "processor": row["processor"] or "—",
            "summary": incident.summary,
            "aware_at": fmt.when(incident.aware_at),
            "opened_at": fmt.when(incident.opened_at),
            "closed_at": fmt.when(incident.closed_at) if incident.closed_at else None,
            "delay_reason": incident.delay_reason or "",
            "people": fmt.number(summary.people),
            "by_field": [(name, fmt.number(n)) for name, n in summary.by_field.items()],
            "risk": _risk(incident.risk, fmt),
            "timeline": [
                {
                    "when": fmt.when(e.at),
                    "kind": e.kind,
                    "actor": e.actor,
                    "summary": e.summary,
                    "seq": e.audit_seq,
                }
                for e in events
            ],
            "evidence": [
                {"kind": e.kind, "ref": e.ref, "when": fmt.when(e.added_at), "actor": e.actor}
                for e in evidence
            ],
            "phases": [
                {
                    "name": fmt.gettext(p.name),
                    "reached": p.reached_at is not None,
                    "when": fmt.when(p.reached_at) if p.reached_at else "",
                    "actor": p.actor or "",
                    "events": p.events,
                }
                for p in phases(events)
            ],
            "authority": _authority_of(db, incident.id, fmt),
            "campaign": _campaign_of(db, incident.id, fmt),
            "published": incident.id in published_ids(db),
        }
    return values


PARTS = {
    "clock": "partials/incident_clock.html",
    "campaign": "partials/incident_campaign.html",
    "authority": "partials/incident_authority.html",
}
"""The parts of the page htmx refreshes: the clock (every minute), a running campaign, an
authority pack being prepared."""


def part_values(console: Console, fmt: Formatter, incident_id: int, part: str) -> dict[str, Any]:
    """The values of one part of the page (:data:`PARTS`), and nothing more."""
    with console.sessions() as db:
        incident = incidents.get_incident(db, incident_id=incident_id)
        if part == "clock":
            return _clock(incident, console.clock(), fmt)
        if part == "authority":
            return {"id": incident.id, "authority": _authority_of(db, incident.id, fmt)}
        return {"id": incident.id, "campaign": _campaign_of(db, incident.id, fmt)}


def permissions(visit: Visit) -> dict[str, bool]:
    """What the page offers the operator: forms only for what their role may do."""
    role = Role(visit.role)
    return {
        "can_decide": role in GRANTS[Need.INCIDENTS],
        "can_contain": role in GRANTS[Need.CONTAINMENT],
    }


async def incident_part(console: Console, visit: Visit, incident_id: int, part: str) -> Response:
    """One part of the incident's page (:data:`PARTS`), as the whole page renders it."""
    if part not in PARTS:
        raise NotFound(f"no part {part!r} of an incident's page")
    values = await run_in_threadpool(part_values, console, visit.fmt, incident_id, part)
    page = context(visit, section="/incidents", title="Incident", **permissions(visit), **values)
    return console.renderer.page(PARTS[part], page)


async def incident_page(
    console: Console, visit: Visit, incident_id: int, *, status: int = 200, **extra: Any
) -> Response:
    """The incident's page (``extra``: the error of a refused action, the form's values)."""
    values = await run_in_threadpool(incident_values, console, visit.fmt, incident_id)
    page = context(
        visit,
        section="/incidents",
        title="Incident",
        max_reason=MAX_REASON,
        reason="",
        measure="",
        **permissions(visit),
        **values,
    )
    page.update(extra)
    return console.renderer.page("incident.html", page, status=status)
