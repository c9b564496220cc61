"""Processors: the list, one processor's page, and suspend / reinstate with a reason.

Suspending and reinstating call :mod:`vigie.processors.status`, as ``vigie processors
suspend|reinstate`` do, with the operator as audit actor: the processor's keys are refused
by the API from the next request on.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.console.figures import daily_activity, usage
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.i18n import Formatter
from vigie.console.pages.chart import people_chart
from vigie.console.pages.common import context
from vigie.console.state import Console
from vigie.errors import InvalidInput
from vigie.processors.counts import scope_sizes
from vigie.processors.directory import get_processor, summarise
from vigie.processors.keys import list_keys
from vigie.processors.models import Contract
from vigie.processors.status import MAX_REASON, reinstate_processor, suspend_processor

router = APIRouter()


def list_values(console: Console, fmt: Formatter) -> dict[str, Any]:
    now = console.clock()
    with console.sessions.begin() as db:
        rows = summarise(db, on=now.date(), now=now)
    return {
        "processors": [
            {
                "name": r.name,
                "legal_name": r.legal_name,
                "suspended": r.status == "suspended",
                "contracts": ", ".join(r.current_contracts) or "—",
                "scope": fmt.number(r.scope_size),
                "keys": fmt.number(r.active_keys),
            }
            for r in rows
        ]
    }


def _contract(c: Contract, fmt: Formatter, today: Any) -> dict[str, Any]:
    return {
        "name": c.name,
        "purpose": c.purpose,
        "legal_basis": c.legal_basis,
        "reference": c.reference,
        "valid": f"{c.valid_from.isoformat()} → {c.valid_to.isoformat() if c.valid_to else '…'}",
        "in_force": c.valid_from <= today and (c.valid_to is None or c.valid_to >= today),
        "fields": [{"name": f, "mask": (c.masks or {}).get(f)} for f in (c.read_fields or [])],
        "write_fields": ", ".join(c.write_fields or []) or "—",
        "budget_day": fmt.number(c.budget_per_day),
        "budget_month": fmt.number(c.budget_per_30_days),
        "rate": fmt.number(c.rate_per_minute),
    }


def detail_values(console: Console, fmt: Formatter, name: str) -> dict[str, Any]:
    now = console.clock()
    today = now.date()
    with console.sessions.begin() as db:
        p = get_processor(db, name=name)
        contracts = list(
            db.scalars(
                select(Contract).where(Contract.processor_id == p.id).order_by(Contract.name)
            )
        )
        keys = list_keys(db, now=now, processor=name)
        scope = scope_sizes(db, on=today, processor_ids=[p.id]).get(p.id, 0)
        activity = daily_activity(db, processor_id=p.id, on=today)
        u = usage(db, on=today).get(p.id)
        values = {
            "name": p.name,
            "legal_name": p.legal_name,
            "siren": p.siren,
            "contact": p.contact_email,
            "security_officer": p.security_officer,
            "suspended": p.suspended_at is not None,
            "suspended_at": fmt.when(p.suspended_at),
            "suspended_reason": p.suspended_reason or "",
        }
    values.update(
        scope=fmt.number(scope),
        today=fmt.number(u.today if u else 0),
        month=fmt.number(u.last_30_days if u else 0),
        budget_day=fmt.number(u.budget_per_day if u else 0),
        budget_month=fmt.number(u.budget_per_30_days if u else 0),
        contracts=[_contract(c, fmt, today) for c in contracts],
        keys=[
            {
                "id": k.id,
                "prefix": k.prefix,
                "status": fmt.gettext(k.status),
                "created": fmt.when(k.created_at),
                "expires": fmt.when(k.expires_at),
                "cidrs": ", ".join(k.allowed_cidrs) or fmt.gettext("any address"),
                "note": k.note or "",
                "revoked": k.status == "revoked",
            }
            for k in keys
        ],
        max_reason=MAX_REASON,
        chart=people_chart(activity, fmt),
    )
    return values


@router.get("/processors")
async def processors(console: ConsoleDep, visit: VisitDep) -> Response:
    values = await run_in_threadpool(list_values, console, visit.fmt)
    return console.renderer.page(
        "processors.html", context(visit, section="/processors", title="Processors", **values)
    )


async def _detail(console: Console, visit: Visit, name: str, **extra: Any) -> Response:
    values = await run_in_threadpool(detail_values, console, visit.fmt, name)
    page = context(visit, section="/processors", title="Processor", reason="", **values)
    page.update(extra)
    status = 400 if page["error"] else 200
    return console.renderer.page("processor.html", page, status=status)


@router.get("/processors/{name}")
async def processor(console: ConsoleDep, visit: VisitDep, name: str) -> Response:
    return await _detail(console, visit, name)


def _suspend(console: Console, visit: Visit, name: str, reason: str) -> None:
    with console.sessions.begin() as db:
        suspend_processor(db, name=name, reason=reason, actor=visit.actor, now=console.clock())


def _reinstate(console: Console, visit: Visit, name: str, reason: str) -> None:
    with console.sessions.begin() as db:
        reinstate_processor(db, name=name, reason=reason, actor=visit.actor)


async def _change(
    console: Console, visit: Visit, name: str, reason: str, *, suspend: bool
) -> Response:
    try:
        await run_in_threadpool(_suspend if suspend else _reinstate, console, visit, name, reason)
    except InvalidInput as exc:
        return await _detail(console, visit, name, error=str(exc), reason=reason)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/processors/{quote(name, safe='')}", status_code=303)


Reason = Annotated[str, Form(max_length=2000)]


@router.post("/processors/{name}/suspend")
async def suspend(console: ConsoleDep, visit: VisitDep, name: str, reason: Reason = "") -> Response:
    return await _change(console, visit, name, reason, suspend=True)


@router.post("/processors/{name}/reinstate")
async def reinstate(
    console: ConsoleDep, visit: VisitDep, name: str, reason: Reason = ""
) -> Response:
    return await _change(console, visit, name, reason, suspend=False)
