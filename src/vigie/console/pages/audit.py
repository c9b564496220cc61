"""The audit page: the trail's size, its signed checkpoints and how far it is anchored."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from vigie.console.figures import audit_health, checkpoints
from vigie.console.guard import ConsoleDep, VisitDep
from vigie.console.i18n import Formatter
from vigie.console.pages.common import context
from vigie.console.pages.overview import audit_values
from vigie.console.state import Console

router = APIRouter()


def audit_page_values(console: Console, fmt: Formatter) -> dict[str, Any]:
    with console.sessions() as db:
        health = audit_health(db)
        rows = checkpoints(db)
        listed = [
            {
                "id": c.id,
                "size": fmt.number(c.size),
                "at": fmt.when(c.at),
                "root": c.root.hex(),
                "key": c.key_fingerprint[:16],
            }
            for c in rows
        ]
    return {"audit": audit_values(console, fmt, health), "checkpoints": listed}


@router.get("/audit")
async def audit(console: ConsoleDep, visit: VisitDep) -> Response:
    values = await run_in_threadpool(audit_page_values, console, visit.fmt)
    return console.renderer.page(
        "audit.html", context(visit, section="/audit", title="Audit", **values)
    )
