"""The guard every console route passes first: session, role, anti-forgery.

It looks the route up in :data:`vigie.console.routes.ROUTES` (a route missing there is
refused), finds the session of the cookie, checks the stage of sign-in and the role,
then, for a state change, the origin and the anti-forgery token. What it found is left
in ``request.state.visit`` (:class:`Visit`) for the route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from vigie.console import csrf
from vigie.console.i18n import Formatter
from vigie.console.roles import Need, check
from vigie.console.routes import ROUTES, STREAMED
from vigie.console.sessions import COOKIE, FULL_STAGE, PASSWORD_STAGE, find_session
from vigie.console.state import Console
from vigie.errors import Denied, VigieError


class SignInNeeded(VigieError):
    """No live session (none, expired, revoked), or one at the wrong stage of sign-in.

    ``to`` is where the browser goes next: the sign-in page, or the second factor.
    """

    def __init__(self, message: str, *, to: str = "/login") -> None:
        self.to = to
        super().__init__(message)


@dataclass(frozen=True)
class Visit:
    """The operator behind one request, as the guard found them."""

    login: str
    role: str
    lang: str
    csrf: str
    session_id: int
    stage: str

    @property
    def actor(self) -> str:
        """The operator as audit actor: ``operator:<login>``."""
        return f"operator:{self.login}"

    @property
    def fmt(self) -> Formatter:
        return Formatter(self.lang)


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _need(request: Request) -> tuple[Need, bool]:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    need = ROUTES.get((request.method, path)) if path else None
    if need is None:
        raise Denied("this route declares no need: refused")
    return need, (request.method, path) in STREAMED


def _find(console: Console, token: str | None, need: Need) -> Visit:
    with console.sessions.begin() as db:
        found = find_session(db, token=token, policy=console.policy, now=console.clock())
        if found is None:
            raise SignInNeeded("sign in to continue")
        row, operator = found
        if need is Need.SECOND_FACTOR:
            if row.stage != PASSWORD_STAGE:
                raise SignInNeeded("this sign-in step is over")
        elif need is not Need.SESSION and row.stage != FULL_STAGE:
            raise SignInNeeded("finish signing in first", to="/login/second-factor")
        return Visit(
            login=operator.login,
            role=operator.role,
            lang=operator.language,
            csrf=row.csrf,
            session_id=row.id,
            stage=row.stage,
        )


async def guard(request: Request) -> None:
    """Let the request through, or raise: :class:`SignInNeeded`, ``Denied``, ``Forged``."""
    need, streamed = _need(request)
    changes = request.method not in csrf.SAFE_METHODS
    if changes:
        csrf.check_origin(request.headers, host=request.headers.get("host", ""))
    if need is Need.PUBLIC:
        return
    console = console_of(request)
    token = console.signer.unsign(request.cookies.get(COOKIE))
    visit = await run_in_threadpool(_find, console, token, need)
    if need not in (Need.SECOND_FACTOR, Need.SESSION):
        check(visit.role, need)
    if changes and not streamed:  # a streamed body's token: vigie.console.upload
        form = await request.form()
        field = form.get(csrf.FIELD)
        csrf.check_token(
            visit.csrf,
            field=field if isinstance(field, str) else None,
            header=request.headers.get(csrf.HEADER),
        )
    request.state.visit = visit


def visit_of(request: Request) -> Visit:
    visit: Visit = request.state.visit
    return visit


VisitDep = Annotated[Visit, Depends(visit_of)]
ConsoleDep = Annotated[Console, Depends(console_of)]
