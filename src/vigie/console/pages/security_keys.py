"""Security keys (WebAuthn): sign in with one, enrol one at first sign-in or from the
account page, remove one. The browser's part is ``static/security-key.js`` (no inline
script): it asks these routes for options, calls ``navigator.credentials`` and posts
the authenticator's answer back as JSON; the anti-forgery token rides in a header."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response

from vigie.console import security_keys
from vigie.console.auth import SignInRefused
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.models import Operator, OperatorSession
from vigie.console.operators import factors, get_operator
from vigie.console.pages.common import context
from vigie.console.pages.signin import promote, set_cookie
from vigie.console.security_keys import RelyingParty
from vigie.console.state import Console
from vigie.console.throttle import Throttled
from vigie.errors import Denied, InvalidInput

router = APIRouter()
ACCOUNT = "/account/security-keys"


def _rp(console: Console, request: Request) -> RelyingParty:
    return RelyingParty.of(console.settings.console_url or str(request.base_url))


def _in_session(
    console: Console, session_id: int, work: Callable[[Session, OperatorSession, Operator], Any]
) -> Any:
    with console.sessions.begin() as db:
        row = db.get(OperatorSession, session_id)
        assert row is not None
        operator = db.get(Operator, row.operator_id)
        assert operator is not None
        return work(db, row, operator)


async def _credential(request: Request) -> tuple[str, str]:
    """The authenticator's answer (JSON text) and the key's name, from the posted JSON."""
    try:
        body = json.loads(await request.body())
        credential = json.dumps(body["credential"])
        name = str(body.get("name") or "")
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("the security key's answer is not JSON") from None
    return credential, name


def _options(text: str) -> Response:
    return Response(text, media_type="application/json", headers={"cache-control": "no-store"})


def _refused(message: str, status: int = 401) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# Sign-in, after the password -------------------------------------------------------------


@router.post("/login/security-key/options")
async def sign_in_options(request: Request, console: ConsoleDep, visit: VisitDep) -> Response:
    rp = _rp(console, request)
    text = await run_in_threadpool(
        _in_session,
        console,
        visit.session_id,
        lambda db, row, op: security_keys.authentication_options(db, operator=op, row=row, rp=rp),
    )
    return _options(text)


def _signed_in(
    console: Console, visit: Visit, rp: RelyingParty, credential: str, name: str, enrol: bool
) -> str:
    def work(db: Session, row: OperatorSession, operator: Operator) -> str:
        now = console.clock()
        if enrol:
            security_keys.enrol_key(
                db, operator=operator, row=row, rp=rp, credential=credential, name=name, now=now
            )
        else:
            security_keys.check_assertion(
                db, operator=operator, row=row, rp=rp, credential=credential, now=now
            )
        return promote(db, row=row, operator=operator, now=now)

    token: str = _in_session(console, visit.session_id, work)
    return token


async def _sign_in(request: Request, console: Console, visit: Visit, *, enrol: bool) -> Response:
    address = request.client.host if request.client else "unknown"
    try:
        console.throttle.check(login=visit.login, address=address)
    except Throttled as exc:
        return _refused(str(exc), 429)
    credential, name = await _credential(request)
    rp = _rp(console, request)
    try:
        token = await run_in_threadpool(_signed_in, console, visit, rp, credential, name, enrol)
    except SignInRefused as exc:
        console.throttle.failed(login=visit.login, address=address)
        # The challenge was used up: a new try asks for new options.
        return _refused(str(exc))
    console.anchored()
    response = JSONResponse({"next": "/"})
    set_cookie(console, request, response, token)
    return response


@router.post("/login/security-key")
async def sign_in(request: Request, console: ConsoleDep, visit: VisitDep) -> Response:
    return await _sign_in(request, console, visit, enrol=False)


def _first_enrolment_options(
    db: Session, row: OperatorSession, operator: Operator, rp: RelyingParty
) -> str:
    if factors(operator, keys=security_keys.count_keys(db, operator_id=operator.id)):
        raise Denied("a second factor is already enrolled: use it to sign in")
    return security_keys.registration_options(db, operator=operator, row=row, rp=rp)


@router.post("/login/security-key/enrol/options")
async def first_enrolment_options(
    request: Request, console: ConsoleDep, visit: VisitDep
) -> Response:
    rp = _rp(console, request)
    text = await run_in_threadpool(
        _in_session,
        console,
        visit.session_id,
        lambda db, row, op: _first_enrolment_options(db, row, op, rp),
    )
    return _options(text)


@router.post("/login/security-key/enrol")
async def first_enrolment(request: Request, console: ConsoleDep, visit: VisitDep) -> Response:
    # The challenge exists only if the options above were handed out, which they are
    # only to an operator with no second factor yet.
    return await _sign_in(request, console, visit, enrol=True)


# The operator's own keys ------------------------------------------------------------------


def _account(console: Console, visit: Visit) -> dict[str, Any]:
    fmt = visit.fmt
    with console.sessions.begin() as db:
        operator = get_operator(db, login=visit.login)
        keys = security_keys.list_keys(db, operator_id=operator.id)
        return context(
            visit,
            section=ACCOUNT,
            title="Security keys",
            totp=operator.totp_enrolled_at is not None,
            keys=[
                {
                    "id": k.id,
                    "name": k.name,
                    "created": fmt.when(k.created_at),
                    "used": fmt.when(k.last_used_at),
                }
                for k in keys
            ],
            max_name=security_keys.MAX_NAME,
        )


@router.get(ACCOUNT)
async def account(console: ConsoleDep, visit: VisitDep) -> Response:
    values = await run_in_threadpool(_account, console, visit)
    return console.renderer.page("security_keys.html", values)


@router.post(ACCOUNT + "/options")
async def enrolment_options(request: Request, console: ConsoleDep, visit: VisitDep) -> Response:
    rp = _rp(console, request)
    text = await run_in_threadpool(
        _in_session,
        console,
        visit.session_id,
        lambda db, row, op: security_keys.registration_options(db, operator=op, row=row, rp=rp),
    )
    return _options(text)


def _enrol(console: Console, visit: Visit, rp: RelyingParty, credential: str, name: str) -> None:
    def work(db: Session, row: OperatorSession, operator: Operator) -> None:
        security_keys.enrol_key(
            db,
            operator=operator,
            row=row,
            rp=rp,
            credential=credential,
            name=name,
            now=console.clock(),
        )

    _in_session(console, visit.session_id, work)


@router.post(ACCOUNT)
async def enrol(request: Request, console: ConsoleDep, visit: VisitDep) -> Response:
    credential, name = await _credential(request)
    rp = _rp(console, request)
    try:
        await run_in_threadpool(_enrol, console, visit, rp, credential, name)
    except SignInRefused as exc:
        return _refused(str(exc), 400)
    console.anchored()
    return JSONResponse({"next": ACCOUNT})


def _remove(console: Console, visit: Visit, key_id: int) -> None:
    with console.sessions.begin() as db:
        operator = get_operator(db, login=visit.login)
        security_keys.remove_key(
            db,
            operator=operator,
            key_id=key_id,
            actor=visit.actor,
            totp=operator.totp_enrolled_at is not None,
        )


@router.post(ACCOUNT + "/{key_id}/remove")
async def remove(
    console: ConsoleDep, visit: VisitDep, key_id: Annotated[int, Path(ge=1)]
) -> Response:
    await run_in_threadpool(_remove, console, visit, key_id)
    console.anchored()
    return RedirectResponse(ACCOUNT, status_code=303)
