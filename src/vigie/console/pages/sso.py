"""Single sign-on (OpenID Connect): off to the identity provider, and back.

``/login/sso`` keeps state, nonce and PKCE verifier in a signed, short-lived cookie
(``SameSite=Lax``: it must come back with the provider's redirect) and sends the
browser to the provider; ``/login/sso/callback`` checks everything
(:mod:`vigie.console.sso`) and opens a full session for the operator named — who must
exist and be enabled in ``vigie operators``. The provider is trusted for the second
factor. The page that follows moves on to the overview by itself (a ``SameSite=Strict``
session cookie is not sent on a redirect that started at another site).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.console.auth import SignInRefused
from vigie.console.guard import ConsoleDep
from vigie.console.i18n import negotiate
from vigie.console.pages.common import public_context
from vigie.console.pages.signin import login_context, set_cookie
from vigie.console.sessions import FULL_STAGE, open_session, purge_sessions
from vigie.console.sso import CALLBACK, COOKIE, PENDING_SECONDS, Pending, signed_in_operator
from vigie.console.state import Console
from vigie.console.throttle import Throttled
from vigie.errors import NotFound

router = APIRouter()


def _redirect_uri(console: Console, request: Request) -> str:
    base = console.settings.console_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK


def _refused(console: Console, request: Request, status: int, error: str) -> Response:
    lang = negotiate(request.headers.get("accept-language"))
    response = console.renderer.page(
        "login.html", login_context(console, lang, error=error), status=status
    )
    response.delete_cookie(COOKIE, path="/login/sso")
    return response


@router.get("/login/sso")
async def start(request: Request, console: ConsoleDep) -> Response:
    if console.sso is None:
        raise NotFound("single sign-on is not configured")
    pending = Pending.new(now=console.clock().timestamp())
    try:
        url = await run_in_threadpool(
            console.sso.authorization_url, pending, redirect_uri=_redirect_uri(console, request)
        )
    except SignInRefused:
        return _refused(console, request, 502, "sso-unreachable")
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        COOKIE,
        pending.seal(console.sso_signer),
        max_age=PENDING_SECONDS,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/login/sso",
    )
    return response


def _finish(console: Console, request: Request, state: str, code: str) -> str:
    assert console.sso is not None
    now = console.clock()
    pending = Pending.unseal(request.cookies.get(COOKIE), console.sso_signer, now=now.timestamp())
    claims = console.sso.claims(
        pending,
        state=state,
        code=code,
        redirect_uri=_redirect_uri(console, request),
        now=now.timestamp(),
    )
    with console.sessions.begin() as db:
        operator = signed_in_operator(db, provider=console.sso.provider, claims=claims)
        purge_sessions(db, policy=console.policy, now=now)
        token, _row = open_session(db, operator=operator, stage=FULL_STAGE, now=now)
        return token


@router.get(CALLBACK)
async def callback(
    request: Request,
    console: ConsoleDep,
    code: Annotated[str, Query(max_length=2048)] = "",
    state: Annotated[str, Query(max_length=256)] = "",
    error: Annotated[str, Query(max_length=256)] = "",
) -> Response:
    if console.sso is None:
        raise NotFound("single sign-on is not configured")
    address = request.client.host if request.client else "unknown"
    try:
        console.throttle.check(login=f"sso@{address}", address=address)
    except Throttled:
        return _refused(console, request, 429, "too-many")
    try:
        if error or not code:
            raise SignInRefused("the identity provider did not sign you in")
        token = await run_in_threadpool(_finish, console, request, state, code)
    except SignInRefused:
        console.throttle.failed(login=f"sso@{address}", address=address)
        return _refused(console, request, 401, "sso")
    lang = negotiate(request.headers.get("accept-language"))
    response = console.renderer.page("signed_in.html", public_context(lang, title="Signed in"))
    response.delete_cookie(COOKIE, path="/login/sso")
    set_cookie(console, request, response, token)
    return response
