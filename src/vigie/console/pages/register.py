"""The breach register (GDPR Art. 33(5)): every incident, notified or not, and its CSV.

The entries are :func:`vigie.breach.register.entries`, the ones ``vigie incident
register`` exports; the CSV is the same file (:func:`vigie.breach.register.write_csv`).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from vigie.breach.register import entries, write_csv
from vigie.console.guard import ConsoleDep, VisitDep
from vigie.console.i18n import Formatter
from vigie.console.pages.common import context
from vigie.console.state import Console

router = APIRouter()


def _when(fmt: Formatter, value: str | None) -> str:
    return fmt.when(datetime.fromisoformat(value)) if value else "—"


def register_values(console: Console, fmt: Formatter) -> dict[str, Any]:
    with console.sessions() as db:
        rows = entries(db)
    return {
        "entries": [
            {
                "id": r["incident_id"],
                "title": r["title"],
                "status": fmt.gettext(r["status"]),
                "source": r["source"],
                "processor": r["processor"] or "—",
                "aware_at": _when(fmt, r["aware_at"]),
                "closed_at": _when(fmt, r["closed_at"]),
                "facts": r["facts"] or "—",
                "people": fmt.number(r["people_affected"]),
                "fields": r["fields_exposed"] or "—",
                "risk": fmt.gettext(r["risk_level"]) if r["risk_level"] else "—",
                "decision": r["decision"] or "—",
                "phases": fmt.number(r["authority_phases"]),
                "notices": fmt.number(r["notices_sent"]),
                "effects": r["effects"] or "—",
                "remedial_action": r["remedial_action"] or "—",
                "delay_reason": r["delay_reason"] or "—",
                "processor_informed": (
                    f"{_when(fmt, informed)} ({r['processor_informed_how'] or '?'})"
                    if (informed := r["processor_informed_at"])
                    else "—"
                ),
            }
            for r in rows
        ]
    }


@router.get("/register")
async def register(console: ConsoleDep, visit: VisitDep) -> Response:
    values = await run_in_threadpool(register_values, console, visit.fmt)
    return console.renderer.page(
        "register.html",
        context(visit, section="/register", title="Breach register", **values),
    )


def _csv(console: Console) -> bytes:
    with console.sessions() as db:
        rows = entries(db)
    out = io.StringIO(newline="")
    write_csv(rows, out)
    return out.getvalue().encode("utf-8")


@router.get("/register.csv")
async def register_csv(console: ConsoleDep, visit: VisitDep) -> Response:
    body = await run_in_threadpool(_csv, console)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": 'attachment; filename="breach-register.csv"',
            "cache-control": "no-store",
        },
    )
