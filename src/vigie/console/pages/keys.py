"""A processor's API keys from the console: issue one (its token shown once) and revoke one.

Both call :mod:`vigie.processors.keys`, as ``vigie keys issue|revoke`` do, with the
operator as audit actor. The token of a new key is in the answer to the POST only: it is
not stored (only its hash is), and the page is not cached.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.pages.common import context
from vigie.console.state import Console
from vigie.errors import NotFound
from vigie.processors.keys import issue_key, list_keys, parse_duration, revoke_key

router = APIRouter()


def _issue(
    console: Console, visit: Visit, name: str, expires_in: str, allowed: str, note: str
) -> dict[str, Any]:
    lifetime = parse_duration(expires_in.strip()) if expires_in.strip() else None
    with console.sessions.begin() as db:
        issued = issue_key(
            db,
            processor=name,
            actor=visit.actor,
            expires_in=lifetime,
            allowed_cidrs=allowed.replace(",", " ").split(),
            note=note.strip() or None,
            now=console.clock(),
        )
    fmt = visit.fmt
    return {
        "name": issued.processor,
        "key_id": issued.key_id,
        "token": issued.token,
        "expires": fmt.when(issued.expires_at),
        "cidrs": ", ".join(issued.allowed_cidrs) or fmt.gettext("any address"),
    }


@router.post("/processors/{name}/keys")
async def issue(
    console: ConsoleDep,
    visit: VisitDep,
    name: str,
    expires_in: Annotated[str, Form(max_length=16)] = "",
    allowed: Annotated[str, Form(max_length=2000)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    values = await run_in_threadpool(_issue, console, visit, name, expires_in, allowed, note)
    await run_in_threadpool(console.anchored)
    page = context(visit, section="/processors", title="New API key", **values)
    return console.renderer.page("key_issued.html", page)


def _revoke(console: Console, visit: Visit, name: str, key_id: int) -> None:
    with console.sessions.begin() as db:
        owned = {k.id for k in list_keys(db, now=console.clock(), processor=name)}
        if key_id not in owned:
            raise NotFound(f"processor {name!r} has no API key {key_id}")
        revoke_key(db, key_id=key_id, actor=visit.actor, now=console.clock())


@router.post("/processors/{name}/keys/{key_id}/revoke")
async def revoke(console: ConsoleDep, visit: VisitDep, name: str, key_id: int) -> Response:
    await run_in_threadpool(_revoke, console, visit, name, key_id)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/processors/{quote(name, safe='')}#h-keys", status_code=303)
