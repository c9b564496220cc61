"""Sign-in (password, then the TOTP code or a security key, one of them enrolled at the
first sign-in) and sign-out. The security key's steps are in :mod:`.security_keys`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from vigie.console import operators
from vigie.console.auth import (
    SignInRefused,
    provisioning_uri,
    qr_svg,
    totp_step,
    verify_password,
)
from vigie.console.guard import ConsoleDep, VisitDep
from vigie.console.i18n import negotiate
from vigie.console.models import Operator, OperatorSession
from vigie.console.pages.common import public_context
from vigie.console.security_keys import MAX_NAME, count_keys
from vigie.console.sessions import (
    COOKIE,
    FULL_STAGE,
    PASSWORD_STAGE,
    open_session,
    purge_sessions,
    revoke,
)
from vigie.console.state import Console
from vigie.console.throttle import Throttled

router = APIRouter()


def _lang(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _with_cookie(console: Console, request: Request, token: str, to: str) -> Response:
    response = RedirectResponse(to, status_code=303)
    set_cookie(console, request, response, token)
    return response


def login_context(console: Console, lang: str, *, error: str | None = None) -> dict[str, object]:
    """The sign-in page's values: the form, and single sign-on's button if configured."""
    sso = console.sso.provider.label if console.sso else None
    return public_context(lang, title="Sign in", error=error, sso=sso)


@router.get("/login")
def login_page(request: Request, console: ConsoleDep) -> Response:
    return console.renderer.page("login.html", login_context(console, _lang(request)))


def _check_password(console: Console, login: str, password: str) -> str:
    now = console.clock()
    with console.sessions.begin() as db:
        operator = db.scalar(select(Operator).where(Operator.login == login))
        usable = operator is not None and operator.disabled_at is None
        verify_password(
            operator.password_hash if usable and operator else None,
            password,
            cost=console.password_cost,
        )
        assert operator is not None
        purge_sessions(db, policy=console.policy, now=now)
        token, _row = open_session(db, operator=operator, stage=PASSWORD_STAGE, now=now)
        return token


@router.post("/login")
async def login(
    request: Request,
    console: ConsoleDep,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    address = _client(request)
    login = login.strip().lower()
    try:
        console.throttle.check(login=login, address=address)
    except Throttled:
        context = login_context(console, _lang(request), error="too-many")
        return console.renderer.page("login.html", context, status=429)
    try:
        token = await run_in_threadpool(_check_password, console, login, password)
    except SignInRefused:
        console.throttle.failed(login=login, address=address)
        context = login_context(console, _lang(request), error="refused")
        return console.renderer.page("login.html", context, status=401)
    return _with_cookie(console, request, token, "/login/second-factor")


def second_factor_context(
    console: Console, visit_login: str, csrf: str, lang: str
) -> dict[str, object]:
    """The second-factor page's values: the TOTP form, the security-key button, or the
    enrolment of one of them (first sign-in)."""
    with console.sessions.begin() as db:
        operator = operators.get_operator(db, login=visit_login)
        keys = count_keys(db, operator_id=operator.id)
        if operator.totp_enrolled_at is not None or keys:
            return public_context(
                lang,
                title="Second factor",
                csrf=csrf,
                enrol=None,
                totp=operator.totp_enrolled_at is not None,
                keys=bool(keys),
            )
        secret = operators.pending_secret(db, operator=operator)
        uri = provisioning_uri(secret, login=operator.login)
        return public_context(
            lang,
            title="Set up your second factor",
            csrf=csrf,
            # segno's SVG, built here from our own URI: markup of ours, not a value.
            enrol={"qr": Markup(qr_svg(uri)), "secret": secret},  # noqa: S704
            totp=True,
            keys=False,
            max_name=MAX_NAME,
        )


def set_cookie(console: Console, request: Request, response: Response, token: str) -> None:
    """Give the browser the signed cookie of session ``token``."""
    response.set_cookie(
        COOKIE,
        console.signer.sign(token),
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
        path="/",
    )


@router.get("/login/second-factor")
async def second_factor_page(console: ConsoleDep, visit: VisitDep) -> Response:
    context = await run_in_threadpool(
        second_factor_context, console, visit.login, visit.csrf, visit.lang
    )
    return console.renderer.page("second_factor.html", context)


def _check_code(console: Console, session_id: int, code: str) -> str:
    now = console.clock()
    with console.sessions.begin() as db:
        row = db.get(OperatorSession, session_id)
        assert row is not None
        operator = db.get(Operator, row.operator_id)
        assert operator is not None
        if operator.totp_secret is None:  # a security key only: no TOTP to check
            raise SignInRefused("sign-in refused")
        step = totp_step(
            operator.totp_secret, code, at=now.timestamp(), last_step=operator.totp_last_step
        )
        if operator.totp_enrolled_at is None:
            operators.confirm_enrolment(db, operator=operator, step=step)
        else:
            operator.totp_last_step = step
        return promote(db, row=row, operator=operator, now=now)


def promote(db: Session, *, row: OperatorSession, operator: Operator, now: datetime) -> str:
    """End the half-way session ``row`` and open a full one (a new token: no fixation)."""
    revoke(row, now=now)
    token, _full = open_session(db, operator=operator, stage=FULL_STAGE, now=now)
    return token


@router.post("/login/second-factor")
async def second_factor(
    request: Request,
    console: ConsoleDep,
    visit: VisitDep,
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    address = _client(request)
    try:
        console.throttle.check(login=visit.login, address=address)
        token = await run_in_threadpool(_check_code, console, visit.session_id, code)
    except (SignInRefused, Throttled) as exc:
        if isinstance(exc, SignInRefused):
            console.throttle.failed(login=visit.login, address=address)
        context = await run_in_threadpool(
            second_factor_context, console, visit.login, visit.csrf, visit.lang
        )
        context["error"] = "too-many" if isinstance(exc, Throttled) else "refused"
        status = 429 if isinstance(exc, Throttled) else 401
        return console.renderer.page("second_factor.html", context, status=status)
    console.anchored()
    return _with_cookie(console, request, token, "/")


def _sign_out(console: Console, session_id: int) -> None:
    with console.sessions.begin() as db:
        row = db.get(OperatorSession, session_id)
        if row is not None and row.revoked_at is None:
            revoke(row, now=console.clock())


@router.post("/logout")
async def logout(console: ConsoleDep, visit: VisitDep) -> Response:
    await run_in_threadpool(_sign_out, console, visit.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
