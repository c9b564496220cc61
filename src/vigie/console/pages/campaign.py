"""The notice campaign (GDPR Art. 34) and the incident's public page.

Starting the campaign queues a job (:func:`vigie.jobs.notices.submit_notice_campaign`)
that a worker runs as ``vigie incident notify`` does; its progress by channel and
language is read from the delivery log in the incident's page, which htmx refreshes
while a campaign runs. Publishing and withdrawing the public page call
:mod:`vigie.public.incident_pages`, as ``vigie incident publish [--withdraw]`` does.
Every one is on the incident's timeline, audited under the operator's name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.pages.incident_view import incident_page
from vigie.console.state import Console
from vigie.errors import Denied, InvalidInput
from vigie.jobs.notices import submit_notice_campaign
from vigie.public import incident_pages

router = APIRouter()
CHANNELS = ("email", "sms", "letter", "all")


def _start(console: Console, visit: Visit, incident_id: int, channel: str) -> None:
    with console.sessions.begin() as db:
        submit_notice_campaign(db, incident_id=incident_id, channel=channel, actor=visit.actor)


@router.post("/incidents/{incident_id}/notices")
async def start(
    console: ConsoleDep,
    visit: VisitDep,
    incident_id: int,
    channel: Annotated[str, Form(max_length=8)] = "email",
) -> Response:
    try:
        await run_in_threadpool(_start, console, visit, incident_id, channel)
    except (Denied, InvalidInput) as exc:
        status = 409 if isinstance(exc, Denied) else 400
        return await incident_page(
            console, visit, incident_id, status=status, error=str(exc), error_at="campaign"
        )
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}#campaign", status_code=303)


def _public(console: Console, visit: Visit, incident_id: int, publish: bool) -> None:
    act = incident_pages.publish if publish else incident_pages.withdraw
    with console.sessions.begin() as db:
        act(db, incident_id=incident_id, actor=visit.actor, clock=console.breach_clock)


@router.post("/incidents/{incident_id}/publish")
async def publish(console: ConsoleDep, visit: VisitDep, incident_id: int) -> Response:
    await run_in_threadpool(_public, console, visit, incident_id, True)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}#public", status_code=303)


@router.post("/incidents/{incident_id}/withdraw")
async def withdraw(console: ConsoleDep, visit: VisitDep, incident_id: int) -> Response:
    await run_in_threadpool(_public, console, visit, incident_id, False)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}#public", status_code=303)
