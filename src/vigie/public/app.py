"""The public listener: pages and JSON for the people concerned, built by :func:`create_app`.

Routes only parse, count (:mod:`vigie.public.limiter`), call one domain function and
render. It serves nothing else: no processor API, no console, no OpenAPI of internals;
``/openapi.json`` describes the JSON endpoints under ``/json`` only.

- ``/``, ``/verify`` (GET form, POST result), ``/self-check`` (GET form, POST "sent"),
  ``/my-file`` (GET form, POST "sent": who saw my file?), ``/report/TOKEN`` (GET a
  button, POST the report: the one-time link sent to the contact on file),
  ``/incidents/ID`` (a published incident's public notice): pages that work without
  JavaScript, in the reader's language (``?lang=``, cookie);
- ``/json/verify``, ``/json/self-check``, ``/json/disclosure-report``: the same for
  programs (a bank's fraud team);
- ``/static/public.css``: the one style sheet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import FastAPI, Form, Path, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from vigie import __version__
from vigie.http.limits import RequestLimits
from vigie.http.listener import Listener
from vigie.http.probes import Probes
from vigie.http.problems import PROBLEM_JSON
from vigie.ops.readiness import store_checks
from vigie.public import json_body, tasks
from vigie.public.group_commit import GroupCommit
from vigie.public.limiter import Limiter
from vigie.public.report_views import ReportViews
from vigie.public.schemas import (
    Problem,
    ReportRequestBody,
    SelfCheckAccepted,
    SelfCheckRequest,
    VerifyAnswer,
    VerifyRequest,
)
from vigie.public.views import Views
from vigie.secrets import InstanceSecrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import is_sqlite, make_engine, make_read_engine, make_session_factory

DESCRIPTION = """\
The public service of a controller after a personal-data breach.

* `POST /json/verify`: is a notice genuine? Give its verification code (and its incident
  number when it shows one). The answer says which incident, when and through which
  channels it was sent — nothing about the person. Every wrong code answers alike.
* `POST /json/self-check`: "was I affected?". The answer is never in the response: if the
  contact is on file, a message is sent to it.
* `POST /json/disclosure-report`: "who saw my file?". Never in the response either: if the
  contact is on file, a one-time link to the person's disclosure report is sent to it
  (or, with `"delivery": "letter"`, the report is posted to the address on file).

Rate-limited per client address and overall (`429` with `Retry-After`); `503` when the
limiter cannot count. Errors are RFC 9457 `application/problem+json`.
"""

_PROBLEMS = {
    400: "Not an e-mail address nor a phone number.",
    413: "Request body too large.",
    414: "Request target too long.",
    422: "The body does not match the schema.",
    429: "Too many requests; see `Retry-After`.",
    431: "Request header fields too large.",
    503: "The service cannot count requests now (or too many are waiting); retry.",
}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": _PROBLEMS[s]}
        for s in statuses
    }


_COMMON = (413, 414, 422, 429, 431, 503)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    secrets: InstanceSecrets | None = None,
    limiter: Limiter | None = None,
) -> FastAPI:
    """The public listener of the instance described by ``settings``.

    ``engine``, ``secrets``, ``limiter`` default to the instance's own; tests and
    benchmarks may pass theirs. Self-checks and report requests are queued as jobs
    (:mod:`vigie.public.tasks`): a ``vigie worker`` answers them.
    """
    engine = engine or make_engine(settings.resolved_database_url)
    secrets = secrets or load_secrets(
        settings.resolved_secrets_dir, reload_seconds=settings.secrets_reload_seconds
    )
    limiter = limiter or Limiter.from_settings(settings)
    sessions = make_session_factory(engine)
    # Code checks only read: on SQLite they take no write lock (queued requests do).
    reader = (
        make_read_engine(engine.url.render_as_string(hide_password=False))
        if is_sqlite(engine)
        else engine
    )

    def write_jobs(rows: Sequence[dict[str, Any]]) -> None:
        with engine.begin() as connection:
            tasks.write(connection, rows)

    views = Views(
        settings=settings,
        sessions=sessions,
        reader=reader,
        secrets=secrets,
        limiter=limiter,
        writer=GroupCommit(write_jobs),
    )

    app = Listener(
        limits=RequestLimits.from_settings(settings, max_body_bytes=settings.public_max_body_bytes),
        name="public",
        probes=Probes.of(settings, checks=store_checks(engine, secrets)),
        title=f"{settings.controller_name}: public service",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    reports = ReportViews(views)
    app.state.limiter = limiter

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return views.http_error(request, exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return views.invalid_json(request, exc)

    # The verification and the style sheet run on the event loop on SQLite: their work is
    # short (one indexed read of a local file), and a thread hop per request was a fifth of
    # their cost. On a database across a network the read goes to a thread: a stalled
    # server must not stall every request of this worker, health probes included.
    on_loop = is_sqlite(engine)

    async def _verify(call: Callable[[], Response]) -> Response:
        return call() if on_loop else await run_in_threadpool(call)

    # Starlette tries the routes in the order they are added, each route passed by costing
    # a regular-expression match (a dozen were a tenth of a self-check's time): the JSON
    # endpoints first (programs call them, at the highest rates), then the style sheet
    # (browsers keep it a day), then the pages.
    @app.post(
        "/json/verify",
        response_model=VerifyAnswer,
        summary="Is a notice genuine?",
        responses=_problems(*_COMMON),
        openapi_extra=json_body.documented(VerifyRequest),
    )
    async def verify_json(request: Request) -> Response:
        """`genuine` and, when it is, the notices that bear this code. Every wrong code
        (malformed, unknown, another incident) answers `{"genuine": false}` alike."""
        body = await json_body.parse(request, VerifyRequest)
        return await _verify(
            lambda: views.verify_json(request, code=body.code, incident=body.incident)
        )

    @app.post(
        "/json/self-check",
        response_model=SelfCheckAccepted,
        status_code=202,
        summary="Was I affected? (answered at the contact on file)",
        responses=_problems(400, *_COMMON),
        openapi_extra=json_body.documented(SelfCheckRequest),
    )
    async def self_check_json(request: Request) -> Response:
        """Always the same `202` for a well-formed contact, in the same time: if the contact
        is on file, a message is sent to it saying whether its person was affected."""
        body = await json_body.parse(request, SelfCheckRequest)
        return await views.self_check_json(request, contact=body.contact)

    @app.post(
        "/json/disclosure-report",
        response_model=SelfCheckAccepted,
        status_code=202,
        summary="Who saw my file? (a one-time link sent to the contact on file)",
        responses=_problems(400, *_COMMON),
        openapi_extra=json_body.documented(ReportRequestBody),
    )
    async def report_json(request: Request) -> Response:
        """Always the same `202` for a well-formed contact, in the same time: if the contact
        is on file, a one-time link to the person's disclosure report is sent to it."""
        body = await json_body.parse(request, ReportRequestBody)
        return await reports.request_json(
            request, contact=body.contact, lang=body.lang, delivery=body.delivery
        )

    @app.get("/static/public.css", include_in_schema=False)
    async def stylesheet() -> Response:
        return views.stylesheet()

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        return views.home(request)

    @app.get("/incidents/{incident_id}", include_in_schema=False)
    def incident(request: Request, incident_id: Annotated[int, Path(ge=1, le=2**31)]) -> Response:
        return views.incident_page(request, incident_id)

    @app.get("/verify", include_in_schema=False)
    def verify_form(request: Request) -> Response:
        return views.verify_form(request)

    @app.post("/verify", include_in_schema=False)
    async def verify_page(
        request: Request,
        code: Annotated[str, Form(max_length=64)] = "",
        incident: Annotated[str, Form(max_length=16)] = "",
        lang: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        return await _verify(
            lambda: views.verify_page(request, code=code, incident=incident, lang=lang)
        )

    @app.get("/self-check", include_in_schema=False)
    def self_check_form(request: Request) -> Response:
        return views.self_check_form(request)

    @app.post("/self-check", include_in_schema=False)
    async def self_check_page(
        request: Request,
        contact: Annotated[str, Form(max_length=300)] = "",
        lang: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        return await views.self_check_page(request, contact=contact, lang=lang)

    @app.get("/my-file", include_in_schema=False)
    def report_form(request: Request) -> Response:
        return reports.form(request)

    @app.post("/my-file", include_in_schema=False)
    async def report_request_page(
        request: Request,
        contact: Annotated[str, Form(max_length=300)] = "",
        lang: Annotated[str, Form(max_length=8)] = "",
        delivery: Annotated[str, Form(max_length=8)] = "link",
    ) -> Response:
        return await reports.request_page(request, contact=contact, lang=lang, delivery=delivery)

    @app.get("/report/{token}", include_in_schema=False)
    def report_link(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
        return reports.link_page(request, token)

    @app.post("/report/{token}", include_in_schema=False)
    def report_page(
        request: Request,
        token: Annotated[str, Path(max_length=64)],
        lang: Annotated[str, Form(max_length=8)] = "",
    ) -> Response:
        return reports.report_page(request, token, lang=lang)

    return app


def app_from_environment() -> FastAPI:
    """The app for ``vigie serve`` workers: settings from ``VIGIE_*``."""
    return create_app(Settings())


__all__ = ["app_from_environment", "create_app"]
