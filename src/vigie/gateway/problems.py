"""RFC 9457 problem documents: every error of the processor API, one shape.

Each error the gateway answers maps to one :class:`ProblemKind` (an HTTP status, a
stable ``type`` URI a client can switch on, and a title). The ``detail`` is a sentence
safe to show: it never holds a personal value and never tells an out-of-scope person
from an unknown one.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from vigie.errors import (
    AuditFailure,
    BudgetExceeded,
    Denied,
    InvalidInput,
    NotFound,
    Unauthenticated,
    VigieError,
)
from vigie.fingerprint.pseudonyms import MalformedPseudonym
from vigie.http.problems import (
    HEADER_TOO_LARGE,
    PROBLEM_JSON,
    TOO_LARGE,
    TYPE_BASE,
    URI_TOO_LONG,
    ProblemKind,
    problem_body,
)

__all__ = ["PROBLEM_JSON", "TYPE_BASE", "ProblemKind"]

UNAUTHENTICATED = ProblemKind(401, "unauthenticated", "Missing or invalid API key")
FORBIDDEN = ProblemKind(403, "forbidden", "Access refused")
NOT_FOUND = ProblemKind(404, "not-found", "No such person")
ROUTE_NOT_FOUND = ProblemKind(404, "no-such-route", "No such endpoint")
METHOD_NOT_ALLOWED = ProblemKind(405, "method-not-allowed", "Method not allowed")
INVALID = ProblemKind(400, "invalid-request", "Invalid request")
MALFORMED_PSEUDONYM = ProblemKind(400, "malformed-pseudonym", "Malformed pseudonym")
VALIDATION = ProblemKind(422, "validation-error", "Request does not match the API schema")
UNSUPPORTED_MEDIA = ProblemKind(415, "unsupported-media-type", "Send application/json")
NOT_ACCEPTABLE = ProblemKind(406, "not-acceptable", "This API answers only JSON")
RATE_LIMITED = ProblemKind(429, "budget-exceeded", "Budget or rate limit exceeded")
UNAVAILABLE = ProblemKind(503, "audit-unavailable", "Temporarily unavailable; nothing disclosed")
INTERNAL = ProblemKind(500, "internal-error", "Internal error; nothing disclosed")

ALL_KINDS: tuple[ProblemKind, ...] = (
    UNAUTHENTICATED,
    FORBIDDEN,
    NOT_FOUND,
    ROUTE_NOT_FOUND,
    METHOD_NOT_ALLOWED,
    INVALID,
    MALFORMED_PSEUDONYM,
    VALIDATION,
    TOO_LARGE,
    URI_TOO_LONG,
    HEADER_TOO_LARGE,
    UNSUPPORTED_MEDIA,
    NOT_ACCEPTABLE,
    RATE_LIMITED,
    UNAVAILABLE,
    INTERNAL,
)


class UnsupportedMediaType(InvalidInput):
    """The request body is not ``application/json``."""


def kind_of(exc: VigieError) -> ProblemKind:
    """The problem kind a Vigie error becomes (order matters: subclasses first)."""
    if isinstance(exc, UnsupportedMediaType):
        return UNSUPPORTED_MEDIA
    if isinstance(exc, MalformedPseudonym):
        return MALFORMED_PSEUDONYM
    if isinstance(exc, Unauthenticated):
        return UNAUTHENTICATED
    if isinstance(exc, BudgetExceeded):
        return RATE_LIMITED
    if isinstance(exc, Denied):
        return FORBIDDEN
    if isinstance(exc, NotFound):
        return NOT_FOUND
    if isinstance(exc, InvalidInput):
        return INVALID
    if isinstance(exc, AuditFailure):
        return UNAVAILABLE
    return INTERNAL


NOT_FOUND_DETAIL = "no person with this identifier is available to you"


def detail_of(exc: VigieError) -> str:
    """The safe sentence for ``exc`` (one fixed sentence for every 404: no oracle)."""
    kind = kind_of(exc)
    if kind is NOT_FOUND:
        return NOT_FOUND_DETAIL
    if kind is UNAVAILABLE:
        return "the disclosure could not be recorded in the audit trail, so nothing was sent"
    if kind is INTERNAL:
        return "an internal error occurred; nothing was disclosed"
    return str(exc)


def problem(
    kind: ProblemKind,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An ``application/problem+json`` response."""
    body = problem_body(kind, detail, instance=instance, **extra)
    all_headers = dict(headers or {})
    if kind is UNAUTHENTICATED:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="vigie"')
    return Response(body, status_code=kind.status, media_type=PROBLEM_JSON, headers=all_headers)


def problem_for(exc: VigieError, *, instance: str | None = None) -> Response:
    """The problem response for a Vigie error, with ``Retry-After`` on a 429."""
    kind = kind_of(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, BudgetExceeded):
        headers["Retry-After"] = str(exc.retry_after)
        extra["retry_after"] = exc.retry_after
    return problem(kind, detail_of(exc), instance=instance, headers=headers, **extra)
