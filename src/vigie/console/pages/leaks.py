"""Leaks: upload a leaked file, follow its analysis (a ``leak.analyze`` job), read the
report, open the incident.

The upload is sealed as it arrives (:mod:`vigie.console.upload`,
:mod:`vigie.leaks.uploads`) and queued with :func:`vigie.jobs.tasks.submit_leak_analysis`,
as ``vigie leak analyze --background`` does; the report is the one the job keeps
encrypted (:mod:`vigie.leaks.vault`); the incident is opened by
:func:`vigie.breach.from_leak.open_from_leak`, as ``vigie incident open --from-leak``
does. Everything read from the report came from a hostile file: it is only ever placed
in templates as escaped text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.breach.clock import FixedClock
from vigie.breach.from_leak import incidents_of_report, open_from_leak
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.i18n import N_, Formatter
from vigie.console.pages.common import context
from vigie.console.pages.jobs import job_values, load_job, wants_partial
from vigie.console.roles import GRANTS, Need, Role
from vigie.console.state import Console
from vigie.console.upload import receive_file
from vigie.errors import InvalidInput
from vigie.jobs.models import JobState
from vigie.jobs.queue import list_jobs
from vigie.jobs.tasks import LEAK_ANALYZE, submit_leak_analysis
from vigie.leaks.uploads import FORMATS, Upload, discard
from vigie.leaks.vault import list_reports, load_report

router = APIRouter()
VERDICTS = (N_("authentic"), N_("mixed"), N_("fabricated"), N_("undetermined"))
TITLES = (N_("Leak analysis"), N_("Leak report"))
FILE_FIELD = "dump"
SHOWN_SAMPLES = 20


def _may(visit: Visit) -> bool:
    return Role(visit.role) in GRANTS[Need.LEAKS]


def report_ref(analysis_id: int) -> str:
    """How an incident's evidence names a stored analysis."""
    return f"leak-analysis:{analysis_id}"


def leaks_values(console: Console, fmt: Formatter) -> dict[str, Any]:
    with console.sessions() as db:
        jobs = [
            job_values(j, fmt, poll=f"/leaks/jobs/{j.id}")
            for j in list_jobs(db, kind=LEAK_ANALYZE, limit=10)
        ]
        analyses = [
            {
                "id": r.id,
                "at": fmt.when(r.created_at),
                "actor": r.actor,
                "rows": fmt.number(r.rows),
                "matched": fmt.number(r.matched_rows),
                "affected": fmt.number(r.affected_subjects),
                "verdict": fmt.gettext(r.verdict),
                "verdict_key": r.verdict,
                "purge": fmt.when(r.purge_after),
            }
            for r in list_reports(db)[:50]
        ]
    return {
        "jobs": jobs,
        "analyses": analyses,
        "formats": ", ".join(FORMATS),
        "max_size": fmt.number(console.settings.leak_upload_max_bytes // (1 << 20)),
    }


@router.get("/leaks")
async def leaks(console: ConsoleDep, visit: VisitDep) -> Response:
    values = await run_in_threadpool(leaks_values, console, visit.fmt)
    return console.renderer.page(
        "leaks.html",
        context(visit, section="/leaks", title="Leaks", can_upload=_may(visit), **values),
    )


def _submit(console: Console, visit: Visit, stored: Path) -> int:
    try:
        with console.sessions.begin() as db:
            job = submit_leak_analysis(db, paths=[stored], actor=visit.actor, uploaded=True)
            return job.id
    except BaseException:
        discard(stored, settings=console.settings)  # nothing queued: nothing kept
        raise


@router.post("/leaks")
async def upload(request: Request, console: ConsoleDep, visit: VisitDep) -> Response:
    def start(filename: str) -> Upload:
        return Upload(console.settings, console.secrets, filename=filename)

    received = await receive_file(request, token=visit.csrf, file_field=FILE_FIELD, sink=start)
    job_id = await run_in_threadpool(_submit, console, visit, received.path)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/leaks/jobs/{job_id}", status_code=303)


def _analysis_job(console: Console, fmt: Formatter, job_id: int) -> dict[str, Any]:
    job = load_job(console, job_id=job_id, kind=LEAK_ANALYZE)
    result = job.result or {}
    facts: list[tuple[str, str]] = []
    link = None
    if job.state == JobState.DONE and result.get("analysis_id"):
        facts = [
            (fmt.gettext("Verdict"), fmt.gettext(str(result.get("verdict", "")))),
            (fmt.gettext("Rows"), fmt.number(int(result.get("rows", 0)))),
            (fmt.gettext("People affected"), fmt.number(int(result.get("affected_subjects", 0)))),
        ]
        link = (f"/leaks/{int(result['analysis_id'])}", fmt.gettext("Read the report"))
    return job_values(job, fmt, poll=f"/leaks/jobs/{job.id}", facts=facts, link=link)


@router.get("/leaks/jobs/{job_id}")
async def analysis_job(
    request: Request, console: ConsoleDep, visit: VisitDep, job_id: int
) -> Response:
    job = await run_in_threadpool(_analysis_job, console, visit.fmt, job_id)
    values = context(visit, section="/leaks", title=TITLES[0], job=job)
    name = "partials/job.html" if wants_partial(request) else "leak_job.html"
    return console.renderer.page(name, values)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def report_values(console: Console, fmt: Formatter, analysis_id: int) -> dict[str, Any]:
    """The stored report of ``analysis_id``, decrypted, as plain strings for the page."""
    with console.sessions() as db:
        r = load_report(db, analysis_id=analysis_id, secrets=console.secrets)
        opened = incidents_of_report(db, report_ref=report_ref(analysis_id))
    window = r.get("leak_window") or None
    exposed = r.get("exposed_fields") or {}
    top = max(exposed.values(), default=0) or 1
    return {
        "analysis_id": analysis_id,
        "verdict": fmt.gettext(str(r.get("verdict", ""))),
        "verdict_key": str(r.get("verdict", "")),
        "rows": fmt.number(int(r.get("rows", 0))),
        "matched": fmt.number(int(r.get("matched_rows", 0))),
        "rejected": fmt.number(int(r.get("rejected_rows", 0))),
        "canary_rows": fmt.number(int(r.get("canary_rows", 0))),
        "affected": fmt.number(int(r.get("affected_subjects", 0))),
        "threshold": _text(r.get("match_threshold")),
        "attribution": [
            {
                "processor": _text(a.get("processor", "")),
                "confidence": f"{float(a.get('confidence', 0)):.6f}",
                "false_probability": f"{float(a.get('false_attribution_probability', 1)):.2e}",
                "evidence": [(str(k), _text(v)) for k, v in (a.get("evidence") or {}).items()],
            }
            for a in r.get("attribution") or []
        ],
        "attribution_note": _text(r.get("attribution_note", "")),
        "window": None
        if not window
        else {
            "earliest": _text(window.get("earliest") or fmt.gettext("an unknown date")),
            "latest": _text(window.get("latest") or fmt.gettext("now (values still current)")),
            "consistent": bool(window.get("consistent", True)),
            "superseded": fmt.number(int(window.get("rows_with_superseded_values") or 0)),
        },
        "exposed": [
            {"field": str(name), "people": fmt.number(int(n)), "share": int(100 * n / top)}
            for name, n in exposed.items()
        ],
        "categories": [
            {
                "name": str(category),
                "counts": [(str(k), fmt.number(int(n))) for k, n in counts.items()],
            }
            for category, counts in (r.get("categories") or {}).items()
        ],
        "columns": [
            {
                "file": _text(c.get("file", "")),
                "header": _text(c.get("header", "")),
                "kind": _text(c.get("kind", "")),
                "via": _text(c.get("via", "")),
                "share": _text(c.get("share", "")),
                "evidence": _text(c.get("evidence") or ""),
            }
            for c in r.get("columns") or []
        ],
        "samples": [
            {
                "file": _text(s.get("file", "")),
                "line": _text(s.get("line", "")),
                "reason": _text(s.get("reason", "")),
                "excerpt": _text(s.get("excerpt", "")),
            }
            for s in (r.get("rejected_samples") or [])[:SHOWN_SAMPLES]
        ],
        "incidents": opened,
    }


@router.get("/leaks/{analysis_id}")
async def report(console: ConsoleDep, visit: VisitDep, analysis_id: int) -> Response:
    values = await run_in_threadpool(report_values, console, visit.fmt, analysis_id)
    return console.renderer.page(
        "leak_report.html",
        context(visit, section="/leaks", title=TITLES[1], can_open=_may(visit), **values),
    )


def _open_incident(console: Console, visit: Visit, analysis_id: int) -> int:
    with console.sessions.begin() as db:
        data = load_report(db, analysis_id=analysis_id, secrets=console.secrets)
        given = incidents_of_report(db, report_ref=report_ref(analysis_id))
        if given:
            raise InvalidInput(f"this analysis is already evidence of incident {given[0]}")
        incident = open_from_leak(
            db,
            report=data,
            actor=visit.actor,
            report_ref=report_ref(analysis_id),
            clock=FixedClock(console.clock()),
        )
        return incident.id


@router.post("/leaks/{analysis_id}/incident")
async def open_incident(console: ConsoleDep, visit: VisitDep, analysis_id: int) -> Response:
    incident_id = await run_in_threadpool(_open_incident, console, visit, analysis_id)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)
