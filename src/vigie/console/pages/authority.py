"""The authority pack (GDPR Art. 33(3)): prepare a phase, preview it, download it.

Preparing queues an ``incident.authority-pack`` job
(:func:`vigie.jobs.authority.submit_authority_pack`): a worker verifies the audit trail
and its served index (the evidence gate, minutes on a large trail), then calls
:func:`vigie.breach.authority.prepare_pack`, as ``vigie incident authority-pack`` does.
The incident's page shows the job's progress (htmx refreshes the section every second;
without JavaScript, a reload shows the same), then the phase to preview and download — or
the gate's refusal in its own words, and nothing prepared. A second pack of the same
incident is refused (409) while one waits or runs. A download serves a prepared phase as
stored (JSON, Markdown or the PDF the CLI writes).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.breach.authority import get_phase
from vigie.breach.authority_render import render_html, render_markdown
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.pages.incident_view import incident_page
from vigie.console.state import Console
from vigie.errors import Denied, NotFound
from vigie.jobs.authority import submit_authority_pack

router = APIRouter()
MEDIA = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
}


def _submit(console: Console, visit: Visit, incident_id: int, complementary: bool) -> None:
    with console.sessions.begin() as db:
        submit_authority_pack(
            db, incident_id=incident_id, actor=visit.actor, complementary=complementary
        )


@router.post("/incidents/{incident_id}/authority-pack")
async def prepare(
    console: ConsoleDep,
    visit: VisitDep,
    incident_id: int,
    complementary: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    try:
        await run_in_threadpool(_submit, console, visit, incident_id, complementary == "yes")
    except Denied as exc:
        return await incident_page(
            console, visit, incident_id, status=409, error=str(exc), error_at="authority"
        )
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/incidents/{incident_id}#authority", status_code=303)


def _document(console: Console, incident_id: int, phase: int, fmt: str) -> bytes:
    with console.sessions() as db:
        content = get_phase(db, incident_id=incident_id, phase=phase).content
    if fmt == "json":
        return (json.dumps(content, indent=2, ensure_ascii=False, default=str) + "\n").encode()
    if fmt == "md":
        return render_markdown(content).encode()
    from weasyprint import HTML

    pdf: bytes = HTML(string=render_html(content)).write_pdf()
    return pdf


@router.get("/incidents/{incident_id}/authority-pack/{phase}.{fmt}")
async def download(
    console: ConsoleDep, visit: VisitDep, incident_id: int, phase: int, fmt: str
) -> Response:
    if fmt not in MEDIA:
        raise NotFound(f"no {fmt!r} form of the pack (json, md or pdf)")
    body = await run_in_threadpool(_document, console, incident_id, phase, fmt)
    name = f"incident-{incident_id}-phase-{phase}.{fmt}"
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )
