"""The overview: processors and their reading against budgets, alerts, incidents, audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from vigie.breach.clock import deadline, time_left
from vigie.breach.incidents import list_incidents
from vigie.console.figures import (
    AuditHealth,
    Verification,
    audit_health,
    last_verification,
    usage,
)
from vigie.console.guard import ConsoleDep, VisitDep
from vigie.console.i18n import Formatter
from vigie.console.pages.common import context
from vigie.console.state import Console
from vigie.detection.alerts import list_alerts
from vigie.processors.directory import summarise
from vigie.processors.models import Processor

router = APIRouter()
ALERT_DAYS = 30


def clock_text(fmt: Formatter, left: timedelta) -> str:
    """``41 h 12 min left`` / ``overdue by 5 h 03 min``, in the operator's language."""
    seconds = int(abs(left.total_seconds()))
    span = f"{seconds // 3600} h {(seconds % 3600) // 60:02d} min"
    if left >= timedelta(0):
        return fmt.gettext("{span} left").format(span=span)
    return fmt.gettext("overdue by {span}").format(span=span)


def audit_values(
    console: Console, fmt: Formatter, health: AuditHealth, verified: Verification | None
) -> dict[str, Any]:
    now = console.clock()
    return {
        "verified": None
        if verified is None
        else {
            "job": verified.job_id,
            "at": fmt.when(verified.at),
            "ok": verified.ok,
            "events": fmt.number(verified.events),
            "error": verified.error,
        },
        "events": fmt.number(health.events),
        "checkpoint": health.checkpoint_id,
        "checkpoint_at": fmt.when(health.checkpoint_at),
        "checkpoint_age": fmt.age(now - health.checkpoint_at) if health.checkpoint_at else "—",
        "unanchored": fmt.number(health.unanchored),
        "stale": health.checkpoint_at is None
        or (now - health.checkpoint_at).total_seconds()
        > console.settings.audit_max_unanchored_seconds,
    }


def overview_values(console: Console, fmt: Formatter) -> dict[str, Any]:
    """The overview's values, formatted for ``fmt``'s language."""
    now = console.clock()
    today = now.date()
    with console.sessions.begin() as db:  # begin: a scope count due today is stored
        summaries = summarise(db, on=today, now=now)
        ids: dict[str, int] = {n: i for n, i in db.execute(select(Processor.name, Processor.id))}
        read = usage(db, on=today)
        alerts = list_alerts(db, since=now - timedelta(days=ALERT_DAYS), limit=10)
        names = {pid: name for name, pid in ids.items()}
        incidents = list_incidents(db, status="open")
        health = audit_health(db)
        verified = last_verification(db)
    processors = []
    for s in summaries:
        u = read.get(ids[s.name])
        processors.append(
            {
                "name": s.name,
                "legal_name": s.legal_name,
                "suspended": s.status == "suspended",
                "scope": fmt.number(s.scope_size),
                "today": fmt.number(u.today if u else 0),
                "budget_day": fmt.number(u.budget_per_day if u else 0),
                "month": fmt.number(u.last_30_days if u else 0),
                "budget_month": fmt.number(u.budget_per_30_days if u else 0),
                "over": bool(u and u.today > u.budget_per_day),
            }
        )
    return {
        "processors": processors,
        "alerts": [
            {
                "id": a.id,
                "when": fmt.when(a.raised_at),
                "severity": fmt.gettext(a.severity),
                "processor": names.get(a.processor_id or 0, "—"),
                "summary": a.summary,
            }
            for a in alerts
        ],
        "alert_days": ALERT_DAYS,
        "incidents": [
            {
                "id": i.id,
                "title": i.title,
                "aware_at": fmt.when(i.aware_at),
                "deadline": fmt.when(deadline(i.aware_at)),
                "left": clock_text(fmt, time_left(i.aware_at, now)),
                "overdue": time_left(i.aware_at, now) < timedelta(0),
            }
            for i in incidents
        ],
        "audit": audit_values(console, fmt, health, verified),
    }


@router.get("/")
async def overview(console: ConsoleDep, visit: VisitDep) -> Response:
    values = await run_in_threadpool(overview_values, console, visit.fmt)
    return console.renderer.page(
        "overview.html", context(visit, section="/", title="Overview", **values)
    )
