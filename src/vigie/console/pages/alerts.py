"""Alerts: the list with filters, each alert's evidence, acknowledging and escalating one.

Acknowledging calls :func:`vigie.detection.alerts.acknowledge_alert`, as ``vigie alerts
acknowledge`` does; escalating to an incident calls
:func:`vigie.detection.alerts.escalate_alert`, as ``vigie alerts escalate`` does; both
with the operator as audit actor.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.i18n import Formatter
from vigie.console.pages.common import context
from vigie.console.state import Console
from vigie.detection.alerts import (
    MAX_NOTE,
    MAX_REASON,
    acknowledge_alert,
    escalate_alert,
    list_alerts,
)
from vigie.detection.findings import Severity
from vigie.processors.directory import get_processor
from vigie.processors.models import Processor

router = APIRouter()
PERIODS = {"1": 1, "7": 7, "30": 30, "365": 365}


def alerts_values(
    console: Console, fmt: Formatter, *, severity: str, processor: str, days: str
) -> dict[str, Any]:
    now = console.clock()
    wanted = Severity(severity) if severity in {s.value for s in Severity} else None
    period = PERIODS.get(days, 30)
    with console.sessions() as db:
        names = {p.id: p.name for p in db.query(Processor)}
        pid = get_processor(db, name=processor).id if processor else None
        rows = list_alerts(
            db,
            processor_id=pid,
            min_severity=wanted,
            since=now - timedelta(days=period),
            limit=200,
        )
        alerts = [
            {
                "id": a.id,
                "when": fmt.when(a.raised_at),
                "severity": fmt.gettext(a.severity),
                "severity_key": a.severity,
                "detector": a.detector,
                "processor": names.get(a.processor_id or 0, "—"),
                "summary": a.summary,
                "containment": a.containment,
                "incident": a.incident_id,
                "evidence": json.dumps(a.evidence, ensure_ascii=False, sort_keys=True),
                "acknowledged": a.acknowledged_at is not None,
                "acknowledged_text": (
                    f"{fmt.when(a.acknowledged_at)} — {a.acknowledged_by}"
                    if a.acknowledged_at
                    else ""
                ),
            }
            for a in rows
        ]
    return {
        "alerts": alerts,
        "filters": {"severity": severity, "processor": processor, "days": str(period)},
        "severities": [s.value for s in Severity],
        "processors": sorted(names.values()),
        "periods": list(PERIODS),
        "max_note": MAX_NOTE,
        "max_reason": MAX_REASON,
    }


@router.get("/alerts")
async def alerts(
    console: ConsoleDep,
    visit: VisitDep,
    severity: Annotated[str, Query(max_length=16)] = "",
    processor: Annotated[str, Query(max_length=64)] = "",
    days: Annotated[str, Query(max_length=4)] = "30",
) -> Response:
    values = await run_in_threadpool(
        lambda: alerts_values(console, visit.fmt, severity=severity, processor=processor, days=days)
    )
    return console.renderer.page(
        "alerts.html", context(visit, section="/alerts", title="Alerts", **values)
    )


def _acknowledge(console: Console, visit: Visit, alert_id: int, note: str) -> None:
    with console.sessions.begin() as db:
        acknowledge_alert(db, alert_id=alert_id, actor=visit.actor, note=note, now=console.clock())


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(
    console: ConsoleDep,
    visit: VisitDep,
    alert_id: int,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    # An unknown or already acknowledged alert raises: the app answers 404 / 400.
    await run_in_threadpool(_acknowledge, console, visit, alert_id, note)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/alerts#alert-{alert_id}", status_code=303)


def _escalate(console: Console, visit: Visit, alert_id: int, reason: str) -> None:
    with console.sessions.begin() as db:
        escalate_alert(db, alert_id=alert_id, actor=visit.actor, reason=reason, now=console.clock())


@router.post("/alerts/{alert_id}/escalate")
async def escalate(
    console: ConsoleDep,
    visit: VisitDep,
    alert_id: int,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    # No reason, an unknown alert or one already attached to an incident raises: 400 / 404.
    await run_in_threadpool(_escalate, console, visit, alert_id, reason)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/alerts#alert-{alert_id}", status_code=303)
