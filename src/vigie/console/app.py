"""The console's app: a :class:`~vigie.http.listener.Listener` built by :func:`create_app`.

Started by ``vigie serve`` on its own port (``--console-port``, default 8001). Every
route passes :func:`~vigie.console.guard.guard` first; errors become pages (sign-in
needed → the sign-in page; refused → 403; not found → 404; bad input → 400; evidence
that does not verify → 409).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from vigie import __version__
from vigie.audit.checkpoints import Checkpointer
from vigie.console.auth import PasswordCost
from vigie.console.csp import ConsolePolicy
from vigie.console.guard import SignInNeeded, guard
from vigie.console.i18n import negotiate
from vigie.console.pages import (
    alerts,
    audit,
    authority,
    campaign,
    incidents,
    keys,
    leaks,
    overview,
    preferences,
    processors,
    register,
    requirements,
    security_keys,
    signin,
    sso,
)
from vigie.console.pages.common import public_context
from vigie.console.render import Renderer
from vigie.console.sessions import CookieSigner, SessionPolicy
from vigie.console.sso import Provider, SingleSignOn
from vigie.console.state import Console
from vigie.console.throttle import SignInThrottle, Throttled
from vigie.errors import AuditFailure, Denied, IntegrityError, InvalidInput, NotFound
from vigie.http.limits import RequestLimits
from vigie.http.listener import Listener
from vigie.http.probes import Probes
from vigie.leaks.uploads import UploadTooLarge
from vigie.ops.readiness import store_checks
from vigie.secrets import InstanceSecrets, load_secrets
from vigie.settings import Settings
from vigie.store.base import utcnow
from vigie.store.engine import make_engine, make_session_factory

STATIC = Path(__file__).parent / "static"
UPLOAD_FORM_BYTES = 64 * 1024


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    secrets: InstanceSecrets | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Listener:
    """The console of the instance described by ``settings``."""
    engine = engine or make_engine(settings.resolved_database_url)
    secrets = secrets or load_secrets(
        settings.resolved_secrets_dir, reload_seconds=settings.secrets_reload_seconds
    )
    sessions = make_session_factory(engine)
    console = Console(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        signer=CookieSigner(secrets),
        policy=SessionPolicy.of(settings),
        throttle=SignInThrottle.of(settings),
        renderer=Renderer(),
        checkpointer=Checkpointer.from_settings(settings, sessions, secrets),
        password_cost=PasswordCost.of(settings),
        secrets=secrets,
        sso_signer=CookieSigner(secrets, purpose="console-sso-cookie", max_length=600),
        sso=SingleSignOn(provider) if (provider := Provider.of(settings)) else None,
    )
    app = Listener(
        limits=RequestLimits.from_settings(
            settings,
            max_body_bytes=settings.console_max_body_bytes,
            # The upload's file, and its form's few fields around it.
            bodies={"/leaks": settings.leak_upload_max_bytes + UPLOAD_FORM_BYTES},
        ),
        title="Vigie console",
        name="console",
        probes=Probes.of(settings, checks=store_checks(engine, secrets)),
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(guard)],
    )
    app.state.console = console
    app.add_middleware(ConsolePolicy)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for page in (signin, sso, security_keys, overview, processors, keys, alerts, leaks, audit,
                 requirements, incidents, authority, campaign, register, preferences):  # fmt: skip
        app.include_router(page.router)
    _errors(app, console)
    return app


def _error_page(console: Console, request: Request, status: int, message: str) -> Response:
    visit = getattr(request.state, "visit", None)
    lang = visit.lang if visit else negotiate(request.headers.get("accept-language"))
    context = public_context(lang, title="Error", status=status, message=message)
    return console.renderer.page("error.html", context, status=status)


def _errors(app: Listener, console: Console) -> None:
    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        if request.method == "GET" and "hx-request" not in request.headers:
            return RedirectResponse(exc.to, status_code=303)
        response = _error_page(console, request, 401, str(exc))
        response.headers["HX-Redirect"] = exc.to
        return response

    @app.exception_handler(AuditFailure)
    async def _unrecorded(request: Request, exc: AuditFailure) -> Response:
        # Fail closed: the change was rolled back with its event.
        message = "the action could not be recorded in the audit trail, so nothing was done"
        return _error_page(console, request, 503, message)

    @app.exception_handler(IntegrityError)
    async def _unverified(request: Request, exc: IntegrityError) -> Response:
        # The evidence gate refused: said in full, nothing done.
        return _error_page(console, request, 409, str(exc))

    @app.exception_handler(Throttled)
    async def _throttled(request: Request, exc: Throttled) -> Response:
        return _error_page(console, request, 429, str(exc))

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied) -> Response:
        return _error_page(console, request, 403, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _error_page(console, request, 404, str(exc))

    @app.exception_handler(UploadTooLarge)
    async def _too_large(request: Request, exc: UploadTooLarge) -> Response:
        return _error_page(console, request, 413, str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return _error_page(console, request, 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _error_page(console, request, 400, "the form is not valid")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_page(console, request, exc.status_code, str(exc.detail)[:200])


def app_from_environment() -> Listener:
    """The app for ``vigie serve``: settings from ``VIGIE_*``."""
    return create_app(Settings())
