"""The processor API: a FastAPI app built by :func:`create_app` and started by ``vigie serve``.

Routes only parse and render. Each request is one unit of work
(:class:`~vigie.gateway.unit.UnitOfWork`): authenticate, call one function of
:mod:`vigie.gateway.disclose` (which counts the request and charges the budget last),
commit, show the request to the detectors, then answer. If anything fails, the
transaction is rolled back (nothing was disclosed or counted), the refusal is recorded in
a transaction of its own, and the client gets an RFC 9457 problem. On SQLite the requests
that arrive together are committed together (see :mod:`vigie.gateway.unit`).

The two hot routes (read one person, list a page) are answered by
:mod:`vigie.gateway.lean` before FastAPI's routing and dependency solving, with the same
work functions and unit of work; their FastAPI routes below describe them in the OpenAPI
document and answer the requests the lean layer leaves to them.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from vigie import __version__
from vigie.audit.anchors import Bound
from vigie.detection.notify import Notifier
from vigie.errors import InvalidInput, VigieError
from vigie.fingerprint.api import make_router as pseudonyms_router
from vigie.fingerprint.trips import make_router
from vigie.gateway import disclose
from vigie.gateway.cursor import MAX_CURSOR_LENGTH, CursorCodec
from vigie.gateway.disclose import Attempt, Caller, Disclosure, Gate
from vigie.gateway.docs_page import add_docs
from vigie.gateway.lean import lean_routes, list_work, read_work
from vigie.gateway.observe import AccessObserver
from vigie.gateway.problems import (
    METHOD_NOT_ALLOWED,
    PROBLEM_JSON,
    ROUTE_NOT_FOUND,
    UNAVAILABLE,
    VALIDATION,
    ProblemKind,
    UnsupportedMediaType,
    problem,
)
from vigie.gateway.schemas import (
    Health,
    Problem,
    SubjectPage,
    SubjectRecord,
    WriteBack,
    WriteReceipt,
)
from vigie.gateway.serial import WriterQueue
from vigie.gateway.unit import UnitOfWork
from vigie.http.limits import RequestLimits
from vigie.http.listener import Listener
from vigie.http.probes import Probes
from vigie.ops.readiness import store_checks
from vigie.requirements.api import ATTESTATIONS_PATH, MULTIPART_OVERHEAD
from vigie.requirements.api import make_router as requirements_router
from vigie.requirements.attestations import attestations_dir
from vigie.secrets import InstanceSecrets, load_secrets
from vigie.settings import Settings
from vigie.store.base import utcnow
from vigie.store.engine import is_sqlite, make_engine, make_session_factory

API_DESCRIPTION = """\
The API through which a subcontractor (GDPR processor) reads the people assigned to it
and records what its contract lets it write back.

* **Authentication**: `Authorization: Bearer vgk_…` (a key issued by the controller).
* **People** are named by a pseudonym that is yours only; only the fields your contract
  lists are sent, masked as it says.
* **Budgets**: distinct people per day and per 30 days, and requests per minute, per
  processor across all its keys. Past them: `429` with `Retry-After`.
* **Errors** are RFC 9457 `application/problem+json` documents; switch on `type`.
* A person outside your scope answers exactly like a person who does not exist (`404`).

Every disclosure is recorded in a tamper-evident audit trail before it is sent.
See the developer guide, `docs/api.md`.
"""

_bearer = HTTPBearer(auto_error=False, description="An API key: `vgk_<prefix>_<secret>`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": d}
        for s, d in _PROBLEM_DESCRIPTIONS.items()
        if s in statuses
    }


_PROBLEM_DESCRIPTIONS = {
    400: "Invalid request (e.g. a forged or expired cursor, a bad value, a pseudonym not "
    "spelt exactly as this API gave it).",
    401: "Missing, malformed or unknown API key.",
    403: "Key revoked, expired or suspended; processor suspended; address not allowed; "
    "contract does not allow this.",
    404: "No such person available to you (unknown and out-of-scope look the same).",
    413: "Request body too large.",
    414: "Request target (path and query) too long.",
    415: "Request body is not application/json.",
    422: "Request does not match this schema.",
    429: "Budget of distinct people or request rate exceeded; see `Retry-After`.",
    431: "A request header line, or all of them, too large.",
    503: "The disclosure could not be audited, so nothing was sent; retry later.",
}
_COMMON = (401, 403, 414, 422, 429, 431, 503)


async def _json_body(request: Request) -> Any:
    """The JSON body, or a ``VigieError`` to raise once the caller is authenticated.

    Its size is already bounded: the listener (:mod:`vigie.http.limits`) answers 413 to a
    body past ``gateway_max_body_bytes`` before the route runs.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        return UnsupportedMediaType("send the body as application/json")
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return InvalidInput("the body is not valid JSON")
    if not isinstance(payload, dict):
        return InvalidInput("the body must be a JSON object")
    return payload


def create_app(
    settings: Settings,
    *,
    observers: Sequence[AccessObserver] = (),
    engine: Engine | None = None,
    secrets: InstanceSecrets | None = None,
    clock: Callable[[], datetime] = utcnow,
    after_commit: Sequence[Callable[[], None]] = (),
    canary_notifier: Notifier | None = None,
    staged: bool = False,
) -> FastAPI:
    """The processor API for the instance described by ``settings``.

    ``observers`` see every request inside its unit of work (see
    :mod:`vigie.gateway.observe`); ``after_commit`` hooks run after each committed request
    (e.g. the audit checkpointer). ``engine``, ``secrets`` and ``clock`` default to the
    instance's own; tests and benchmarks may pass theirs. ``staged``: commit each
    request's audit events unsequenced, for a sequencer to chain (see
    :attr:`vigie.gateway.disclose.Gate.staged`); someone must run one
    (:class:`vigie.audit.sequencer.SequencerService`).
    """
    engine = engine or make_engine(settings.resolved_database_url)
    secrets = secrets or load_secrets(
        settings.resolved_secrets_dir, reload_seconds=settings.secrets_reload_seconds
    )
    gate = Gate(
        secrets=secrets,
        cursors=CursorCodec(secrets, ttl_seconds=settings.gateway_cursor_ttl_seconds),
        max_page_size=settings.gateway_max_page_size,
        observers=tuple(observers),
        staged=staged,
        read_ahead=not is_sqlite(engine),
    )
    uow = UnitOfWork(
        make_session_factory(engine),
        gate,
        clock,
        after_commit,
        WriterQueue(engine),
        grouped=is_sqlite(engine),
    )
    max_page = settings.gateway_max_page_size
    max_body = settings.gateway_max_body_bytes

    app = Listener(
        limits=RequestLimits.from_settings(
            settings,
            max_body_bytes=max_body,
            # an attestation carries its evidence PDF: that route alone takes a document
            bodies={ATTESTATIONS_PATH: settings.attestation_max_bytes + MULTIPART_OVERHEAD},
        ),
        name="api",
        probes=Probes.of(settings, checks=store_checks(engine, secrets, staged=staged)),
        title="Vigie processor API",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.unit_of_work = uow
    if settings.gateway_docs:
        add_docs(app)
    # The mail/SMS gateway reports messages that reached a canary contact here.
    app.include_router(
        make_router(
            sessions=make_session_factory(engine),
            secrets=secrets,
            bound=Bound.of(settings),
            notifier=canary_notifier,
            clock=clock,
            overlap_seconds=settings.webhook_rotation_overlap_hours * 3600,
        )
    )

    # The one-time pseudonym mapping after a rotation (vigie.fingerprint.api).
    app.include_router(
        pseudonyms_router(sessions=make_session_factory(engine), secrets=secrets, clock=clock)
    )

    # Attestations and campaign acknowledgements (vigie.requirements.api).
    app.include_router(
        requirements_router(
            sessions=make_session_factory(engine),
            store_dir=attestations_dir(settings.data_dir),
            clock=clock,
            max_document_bytes=settings.attestation_max_bytes,
        )
    )

    @app.exception_handler(StarletteHTTPException)
    async def _http_problem(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            kind = ROUTE_NOT_FOUND
        elif exc.status_code == 405:
            kind = METHOD_NOT_ALLOWED
        else:
            phrase = HTTPStatus(exc.status_code).phrase
            kind = ProblemKind(exc.status_code, "http-" + str(exc.status_code), phrase)
        return problem(kind, str(exc.detail)[:200], instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_problem(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))[:200]}
            for e in exc.errors()[:10]
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return problem(VALIDATION, detail[:500], instance=request.url.path, errors=errors)

    @app.get(
        "/api/v1/health",
        response_model=Health,
        tags=["service"],
        summary="Is the gateway up?",
        responses={503: {"model": Problem, "content": {PROBLEM_JSON: {}}}},
    )
    def health() -> Response:
        """Answers `{"status": "ok"}` when the gateway and its database answer. No key needed."""
        # On the driver, outside any transaction: a read answers even while a writer (the
        # gateway's group, a CLI import) holds SQLite's write lock.
        try:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("SELECT 1")
                cursor.close()
            finally:
                raw.close()
        except Exception:
            return problem(UNAVAILABLE, "the database does not answer")
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get(
        "/api/v1/subjects",
        response_model=SubjectPage,
        tags=["subjects"],
        summary="List the people in your scope, a page at a time",
        responses=_problems(400, *_COMMON),
    )
    async def list_subjects(
        request: Request,
        credentials: BearerDep,
        limit: Annotated[
            int, Query(ge=1, le=max_page, description="Page size (people per page).")
        ] = min(50, max_page),
        cursor: Annotated[
            str | None,
            Query(
                max_length=MAX_CURSOR_LENGTH,
                description="The `next_cursor` of the previous page; omit for the first page.",
            ),
        ] = None,
    ) -> Response:
        """People currently assigned to you, in a stable order, with the fields your
        contract allows. Each person newly disclosed today counts against your budgets; a
        page may end early when the budget is nearly spent (follow `next_cursor`)."""

        work = list_work(gate, limit, cursor)
        return await uow.call(request, kind="list", token=_token(credentials), work=work)

    pseudonym_param = Path(
        description="The person's pseudonym, spelt exactly as this API gave it: 26 "
        "characters of a-z and 2-7, lower case (any other spelling is a 400).",
        examples=["u5i2mmybhvptruah2pv6s7zf7u"],
    )

    @app.get(
        "/api/v1/subjects/{pseudonym}",
        response_model=SubjectRecord,
        tags=["subjects"],
        summary="Read one person",
        responses=_problems(400, 404, *_COMMON),
    )
    async def read_subject(
        request: Request,
        credentials: BearerDep,
        pseudonym: Annotated[str, pseudonym_param],
    ) -> Response:
        """One person in your scope, with the fields your contract allows, masked as it
        says. Counts against your budgets unless already disclosed to you today."""

        work = read_work(gate, pseudonym)
        return await uow.call(request, kind="read", token=_token(credentials), work=work)

    @app.post(
        "/api/v1/subjects/{pseudonym}/events",
        response_model=WriteReceipt,
        status_code=201,
        tags=["subjects"],
        summary="Record a write-back about one person",
        responses=_problems(400, 404, 413, 415, *_COMMON),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": WriteBack.model_json_schema()}},
            }
        },
    )
    async def write_event(
        request: Request,
        credentials: BearerDep,
        pseudonym: Annotated[str, pseudonym_param],
    ) -> Response:
        """Record facts about a person in your scope (e.g. course attendance). Only the
        fields your contract lists under `write_fields` are accepted."""
        payload = await _json_body(request)

        def work(session: Session, caller: Caller, attempt: Attempt, now: datetime) -> Disclosure:
            if isinstance(payload, VigieError):
                raise payload
            return disclose.write_event(
                session,
                gate=gate,
                caller=caller,
                pseudonym=pseudonym,
                payload=payload,
                attempt=attempt,
                now=now,
            )

        token = _token(credentials)
        return await uow.call(request, kind="write", token=token, work=work, status=201)

    # The two hot routes are answered before FastAPI's routing and dependency solving
    # (vigie.gateway.lean); the routes above still describe them and serve the odd cases.
    app.front = lean_routes(uow=uow, gate=gate, max_page=max_page, routes=app.routes)
    return app


def _token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


def app_from_environment() -> FastAPI:
    """The app for ``vigie serve`` workers: settings from ``VIGIE_*``, default observers.

    On PostgreSQL the requests stage their audit events and each worker runs a
    :class:`~vigie.audit.sequencer.SequencerService` (one of them is elected and
    integrates and signs); on SQLite, whose writes are serialised anyway, each request
    chains its events in its own transaction and the checkpoint timer signs.
    """
    from vigie.audit.sequencer import SequencerService
    from vigie.detection.notify import notifier_from_settings
    from vigie.gateway.wiring import (
        CheckpointTimer,
        default_after_commit,
        default_checkpointer,
        default_observers,
        run_during,
    )

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    secrets = load_secrets(
        settings.resolved_secrets_dir, reload_seconds=settings.secrets_reload_seconds
    )
    notifier = notifier_from_settings(settings, secrets)  # alerts and canary trips alike
    staged = not is_sqlite(engine)
    app = create_app(
        settings,
        engine=engine,
        secrets=secrets,
        observers=default_observers(settings, engine, notifier=notifier),
        after_commit=() if staged else default_after_commit(settings, engine, secrets=secrets),
        canary_notifier=notifier,
        staged=staged,
    )
    checkpointer = default_checkpointer(settings, engine, secrets=secrets)
    if staged:
        service = SequencerService(
            engine,
            checkpointer,
            poll=settings.audit_sequencer_poll_seconds,
            lease_seconds=settings.audit_sequencer_lease_seconds,
        )
        return run_during(app, service)
    # The time rule on an idle server, and a last checkpoint when the worker stops.
    return run_during(app, CheckpointTimer(checkpointer))
