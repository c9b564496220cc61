"""Incidents: the list with each 72-hour clock, one incident's page, the risk assessment,
the DPO's override of it, and containment measures.

Assessing calls :func:`vigie.breach.assessment.assess_incident`, the override
:func:`vigie.breach.assessment.overrule_incident` and a measure
:func:`vigie.breach.incidents.record_decision` (kind ``measure``), as ``vigie incident
assess``, ``overrule`` and ``record --measure`` do, with the operator as audit actor.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.breach import incidents
from vigie.breach.assessment import assess_incident, overrule_incident
from vigie.breach.clock import deadline, time_left
from vigie.breach.risk import Recipients
from vigie.breach.views import incident_row
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.i18n import Formatter
from vigie.console.pages.common import context
from vigie.console.pages.incident_view import MAX_REASON, incident_page, incident_part
from vigie.console.pages.overview import clock_text
from vigie.console.state import Console
from vigie.errors import ConfigError, InvalidInput

router = APIRouter()
STATUSES = ("open", "closed")
Reason = Annotated[str, Form(max_length=MAX_REASON)]
Flag = Annotated[str, Form(max_length=3)]


def list_values(console: Console, fmt: Formatter, *, status: str) -> dict[str, Any]:
    now = console.clock()
    wanted = status if status in STATUSES else None
    with console.sessions() as db:
        rows = []
        for i in incidents.list_incidents(db, status=wanted):
            row = incident_row(db, i, now=now)
            left = time_left(i.aware_at, now)
            rows.append(
                {
                    "id": i.id,
                    "title": i.title,
                    "status": fmt.gettext(i.status),
                    "open": i.status == "open",
                    "source": i.source,
                    "processor": row["processor"] or "—",
                    "people": fmt.number(row["people"]),
                    "risk": fmt.gettext(row["risk"]) if row["risk"] else "—",
                    "aware_at": fmt.when(i.aware_at),
                    "deadline": fmt.when(deadline(i.aware_at)),
                    "left": clock_text(fmt, left),
                    "overdue": left < timedelta(0),
                }
            )
    return {"incidents": rows, "filter": wanted or "", "statuses": STATUSES}


@router.get("/incidents")
async def incident_list(
    console: ConsoleDep, visit: VisitDep, status: Annotated[str, Query(max_length=8)] = ""
) -> Response:
    values = await run_in_threadpool(list_values, console, visit.fmt, status=status)
    return console.renderer.page(
        "incidents.html", context(visit, section="/incidents", title="Incidents", **values)
    )


@router.get("/incidents/{incident_id}")
async def incident(
    console: ConsoleDep,
    visit: VisitDep,
    incident_id: int,
    part: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    if part:  # htmx refreshing the clock or a running campaign
        return await incident_part(console, visit, incident_id, part)
    return await incident_page(console, visit, incident_id)


def _assess(console: Console, visit: Visit, incident_id: int, facts: dict[str, Any]) -> None:
    with console.sessions.begin() as db:
        assess_incident(
            db, incident_id=incident_id, actor=visit.actor, clock=console.breach_clock, **facts
        )


@router.post("/incidents/{incident_id}/assess")
async def assess(
    console: ConsoleDep,
    visit: VisitDep,
    incident_id: int,
    malicious: Flag = "",
    encrypted: Flag = "",
    profiling: Flag = "",
    recipients: Annotated[str, Form(max_length=8)] = "",
    neutralised: Reason = "",
    disproportionate: Reason = "",
) -> Response:
    if recipients and recipients not in {r.value for r in Recipients}:
        raise InvalidInput(f"unknown recipients {recipients!r}")
    facts = {
        "malicious": malicious == "yes",
        "encrypted": encrypted == "yes",
        "profiling_possible": profiling == "yes",
        "recipients": recipients or None,
        "risk_neutralised": neutralised.strip() or None,
        "disproportionate_effort": disproportionate.strip() or None,
    }
    try:
        await run_in_threadpool(_assess, console, visit, incident_id, facts)
    except ConfigError as exc:  # no population context declared: said as the CLI says it
        return await incident_page(
            console, visit, incident_id, status=409, error=str(exc), error_at="assess"
        )
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}#risk", status_code=303)


def _overrule(console: Console, visit: Visit, incident_id: int, notify: bool, reason: str) -> None:
    with console.sessions.begin() as db:
        overrule_incident(
            db,
            incident_id=incident_id,
            notify_people=notify,
            reason=reason,
            actor=visit.actor,
            clock=console.breach_clock,
        )


@router.post("/incidents/{incident_id}/overrule")
async def overrule(
    console: ConsoleDep,
    visit: VisitDep,
    incident_id: int,
    reason: Reason = "",
    notify_people: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    if notify_people not in ("yes", "no"):
        return await incident_page(
            console, visit, incident_id, status=400, reason=reason,
            error=visit.fmt.gettext("Choose whether each person is told."),
        )  # fmt: skip
    try:
        await run_in_threadpool(
            _overrule, console, visit, incident_id, notify_people == "yes", reason
        )
    except InvalidInput as exc:
        return await incident_page(
            console, visit, incident_id, status=400, error=str(exc), reason=reason
        )
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}#risk", status_code=303)


def _measure(console: Console, visit: Visit, incident_id: int, measure: str) -> None:
    with console.sessions.begin() as db:
        incidents.record_decision(
            db,
            incident_id=incident_id,
            kind="measure",
            summary=measure,
            actor=visit.actor,
            clock=console.breach_clock,
        )


@router.post("/incidents/{incident_id}/measures")
async def measure(
    console: ConsoleDep, visit: VisitDep, incident_id: int, measure: Reason = ""
) -> Response:
    text = measure.strip()
    if not text:
        return await incident_page(
            console, visit, incident_id, status=400, error_at="containment",
            error=visit.fmt.gettext("Say what was done: the measure is recorded as written."),
        )  # fmt: skip
    await run_in_threadpool(_measure, console, visit, incident_id, text)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}#timeline", status_code=303)
