"""The operator's own preferences: the language of their console (French or English).

Calls :func:`vigie.console.operators.set_language`, as ``vigie operators set-language``
does, audited with the operator as actor; every role may change its own language, and
nothing else here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.operators import set_language
from vigie.console.state import Console

router = APIRouter()


def _back(path: str) -> str:
    """Where to go after the change: a path of this console, or the overview."""
    ok = path.startswith("/") and not path.startswith("//") and "\\" not in path
    return path if ok else "/"


def _set(console: Console, visit: Visit, language: str) -> None:
    with console.sessions.begin() as db:
        set_language(db, login=visit.login, language=language, actor=visit.actor)


@router.post("/preferences/language")
async def language(
    console: ConsoleDep,
    visit: VisitDep,
    language: Annotated[str, Form(max_length=8)],
    back: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    await run_in_threadpool(_set, console, visit, language)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(_back(back), status_code=303)
