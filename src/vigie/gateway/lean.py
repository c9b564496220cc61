"""The two hot routes (read one person, list a page) served without FastAPI's machinery.

Most of the processor API's traffic is ``GET /api/v1/subjects/{pseudonym}`` and
``GET /api/v1/subjects``. Through FastAPI each one paid routing over every route, the
dependency solver (the bearer scheme, the path and query parameters through pydantic)
and the exception middleware: about a third of a read's CPU once the unit of work itself
was cheap. :class:`LeanRoutes` sits between the listener's middleware
(:mod:`vigie.http.middleware`: request id, access line and metrics, limits, security
headers — all kept) and FastAPI, and answers those two routes itself when the request is
plainly well formed: a ``GET``, one non-empty path segment, at most one ``limit`` (digits
within the page bound) and one ``cursor`` (within its length bound). It reads the bearer
token exactly as FastAPI's ``HTTPBearer(auto_error=False)`` does and runs the very same
unit of work (:mod:`vigie.gateway.unit`) with the very same work functions (below), so
authentication, scope, minimisation, budgets, the audit append, detection and the RFC 9457
problems are those of the FastAPI route, byte for byte.

Anything else — ``HEAD``, a trailing slash, a ``limit`` FastAPI would have to coerce or
refuse, a repeated parameter, a ``root_path`` — goes on to FastAPI, whose routes stay
declared: they answer those requests (a 422 in FastAPI's words, a redirect…) and describe
both routes in the OpenAPI document.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from vigie.gateway import disclose
from vigie.gateway.ahead import One, Page, Wanted
from vigie.gateway.cursor import MAX_CURSOR_LENGTH
from vigie.gateway.disclose import Attempt, Caller, Disclosure, Gate
from vigie.gateway.problems import INTERNAL, problem
from vigie.gateway.unit import UnitOfWork, Work

log = logging.getLogger(__name__)

SUBJECTS = "/api/v1/subjects"
ONE_SUBJECT = SUBJECTS + "/{pseudonym}"
_PREFIX = SUBJECTS + "/"
_AUTHORIZATION = b"authorization"
_MAX_LIMIT_DIGITS = 9


def read_work(gate: Gate, pseudonym: str) -> Work:
    """The unit of work's body for ``GET /api/v1/subjects/{pseudonym}``."""

    def work(session: Session, caller: Caller, attempt: Attempt, now: datetime) -> Disclosure:
        return disclose.read_subject(
            session, gate=gate, caller=caller, pseudonym=pseudonym, attempt=attempt, now=now
        )

    return work


def list_work(gate: Gate, limit: int, cursor: str | None) -> Work:
    """The unit of work's body for ``GET /api/v1/subjects``."""

    def work(session: Session, caller: Caller, attempt: Attempt, now: datetime) -> Disclosure:
        return disclose.list_subjects(
            session,
            gate=gate,
            caller=caller,
            limit=limit,
            cursor=cursor,
            attempt=attempt,
            now=now,
        )

    return work


def bearer_token(scope: Scope) -> str | None:
    """The bearer credentials as FastAPI's ``HTTPBearer(auto_error=False)`` reads them.

    The first ``Authorization`` header (latin-1, as Starlette decodes headers), split at
    its first space: None unless the scheme is ``bearer`` (any case) and the rest, with
    its surrounding whitespace stripped, is not empty.
    """
    for name, value in scope["headers"]:
        if name == _AUTHORIZATION:
            header: str = bytes(value).decode("latin-1")
            break
    else:
        return None
    scheme, credentials = get_authorization_scheme_param(header)
    if not (scheme and credentials) or scheme.lower() != "bearer":
        return None
    return credentials


def page_query(query_string: bytes, *, max_page: int) -> tuple[int, str | None] | None:
    """``(limit, cursor)`` from a query string that needs no coercion, else None.

    None sends the request on to FastAPI, which validates (and refuses) as it always has.
    """
    limit = min(50, max_page)
    cursor: str | None = None
    seen_limit = seen_cursor = False
    if query_string:
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if name == "limit":
                if seen_limit or not _plain_digits(value):
                    return None
                seen_limit = True
                limit = int(value)
                if not 1 <= limit <= max_page:
                    return None
            elif name == "cursor":
                if seen_cursor or len(value) > MAX_CURSOR_LENGTH:
                    return None
                seen_cursor = True
                cursor = value
    return limit, cursor


def _plain_digits(value: str) -> bool:
    """A positive integer as written canonically (no sign, no space, no leading zero)."""
    return (
        0 < len(value) <= _MAX_LIMIT_DIGITS
        and value.isascii()
        and value.isdigit()
        and value[0] != "0"
    )


class LeanRoutes:
    """An ASGI layer answering the two hot routes itself, everything else via ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        uow: UnitOfWork,
        gate: Gate,
        max_page: int,
        routes: dict[str, BaseRoute],
    ) -> None:
        self.app = app
        self.uow = uow
        self.gate = gate
        self.max_page = max_page
        # FastAPI's route objects, set in the scope as its router would: the access line
        # and the metrics label the request with the route's template.
        self.one_route = routes[ONE_SUBJECT]
        self.list_route = routes[SUBJECTS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path"):
            path: str = scope["path"]
            if path == SUBJECTS:
                query = page_query(scope["query_string"], max_page=self.max_page)
                if query is not None:
                    scope["route"] = self.list_route
                    work = list_work(self.gate, *query)
                    await self._serve(scope, receive, send, "list", work, Page(*query))
                    return
            elif path.startswith(_PREFIX):
                pseudonym = path[len(_PREFIX) :]
                if pseudonym and "/" not in pseudonym:
                    scope["route"] = self.one_route
                    scope["path_params"] = {"pseudonym": pseudonym}
                    work = read_work(self.gate, pseudonym)
                    await self._serve(scope, receive, send, "read", work, One(pseudonym))
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        kind: str,
        work: Work,
        read_ahead: Wanted | None = None,
    ) -> None:
        request = Request(scope, receive)
        try:
            response = await self.uow.call(
                request, kind=kind, token=bearer_token(scope), work=work, read_ahead=read_ahead
            )
        except Exception:
            # The unit of work answers every failure itself; this is a defect. Nothing was
            # disclosed (an answer leaves only from a returned response).
            log.exception("gateway request failed outside its unit of work")
            response = problem(INTERNAL, "an internal error occurred; nothing was disclosed")
        await response(scope, receive, send)


def lean_routes(
    *, uow: UnitOfWork, gate: Gate, max_page: int, routes: list[BaseRoute]
) -> Callable[[ASGIApp], ASGIApp]:
    """The layer to put in front of the app whose ``routes`` declare the two hot routes."""
    by_path = {
        str(getattr(r, "path", "")): r
        for r in routes
        if "GET" in (getattr(r, "methods", None) or ())
    }

    def wrap(app: ASGIApp) -> ASGIApp:
        return LeanRoutes(app, uow=uow, gate=gate, max_page=max_page, routes=by_path)

    return wrap
