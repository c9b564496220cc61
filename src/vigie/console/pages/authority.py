"""The authority pack (GDPR Art. 33(3)): prepare a phase, preview it, download it.

Preparing calls :func:`vigie.breach.authority.prepare_pack`, as ``vigie incident
authority-pack`` does: behind the evidence gate (the audit trail and its served index
must verify, anchored), so a refusal is shown in the incident's page as the gate words it
and nothing is prepared. A download serves a prepared phase as stored (JSON, Markdown or
the PDF the CLI writes).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.breach.authority import get_phase, prepare_pack
from vigie.breach.authority_render import render_html, render_markdown
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.pages.incident_view import incident_page
from vigie.console.state import Console
from vigie.errors import IntegrityError, NotFound

router = APIRouter()
MEDIA = {
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "pdf": "application/pdf",
}


def _prepare(console: Console, visit: Visit, incident_id: int, complementary: bool) -> int:
    with console.sessions.begin() as db:
        row = prepare_pack(
            db,
            console.settings,
            incident_id=incident_id,
            actor=visit.actor,
            audit_key=console.secrets.verify_key,
            audit_keys=console.secrets.audit_keys,
            complementary=complementary,
            clock=console.breach_clock,
        )
        return row.phase


@router.post("/incidents/{incident_id}/authority-pack")
async def prepare(
    console: ConsoleDep,
    visit: VisitDep,
    incident_id: int,
    complementary: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    try:
        await run_in_threadpool(_prepare, console, visit, incident_id, complementary == "yes")
    except IntegrityError as exc:
        message = visit.fmt.gettext("The authority pack was refused: {why}").format(why=exc)
        return await incident_page(
            console, visit, incident_id, status=409, error=message, error_at="authority"
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
