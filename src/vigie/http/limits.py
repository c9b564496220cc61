"""Bounds on a request's head and body, as front servers set them (nginx: 8 KB a line).

Pure checks over an ASGI scope: each raises :class:`RequestTooLarge` with the problem
kind to answer (414, 431, 413) or :class:`MalformedRequest` (400); a request within the
bounds passes in silence. :class:`~vigie.http.middleware.ListenerMiddleware` applies them
before the app sees anything, whatever server runs it (uvicorn's default parser,
httptools, takes a header of any size).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vigie.errors import InvalidInput
from vigie.http.problems import (
    BAD_REQUEST,
    HEADER_TOO_LARGE,
    TOO_LARGE,
    URI_TOO_LONG,
    ProblemKind,
)
from vigie.settings import Settings


class RequestTooLarge(InvalidInput):
    """A request's target, header or body is past the listener's bounds."""

    def __init__(self, message: str, *, kind: ProblemKind) -> None:
        self.kind = kind
        super().__init__(message)


class MalformedRequest(InvalidInput):
    """A request whose framing cannot be trusted (e.g. a non-numeric Content-Length)."""

    kind = BAD_REQUEST


@dataclass(frozen=True)
class RequestLimits:
    """The bounds of one listener.

    ``max_line_bytes`` bounds the request target and each header line (name, ``: ``,
    value); ``max_head_bytes`` all header lines together; ``max_body_bytes`` the body.
    ``bodies`` gives a route its own body bound, by exact path (an upload route takes a
    document; every other route keeps the listener's small bound).
    """

    max_line_bytes: int
    max_head_bytes: int
    max_body_bytes: int
    bodies: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bounds = (self.max_line_bytes, self.max_head_bytes, self.max_body_bytes)
        if min(*bounds, *self.bodies.values()) < 1:
            raise ValueError("request limits must be positive")
        if self.max_head_bytes < self.max_line_bytes:
            raise ValueError("max_head_bytes must be at least max_line_bytes")

    @classmethod
    def from_settings(
        cls, settings: Settings, *, max_body_bytes: int, bodies: Mapping[str, int] | None = None
    ) -> RequestLimits:
        """The limits in ``settings`` (``http_*``), with the listener's own body bounds."""
        return cls(
            max_line_bytes=settings.http_max_line_bytes,
            max_head_bytes=settings.http_max_head_bytes,
            max_body_bytes=max_body_bytes,
            bodies=dict(bodies or {}),
        )

    def body_bound(self, scope: Mapping[str, Any]) -> int:
        """The largest body the request's route accepts."""
        return self.bodies.get(scope["path"], self.max_body_bytes)

    def check_head(self, scope: Mapping[str, Any]) -> int | None:
        """Raise if the request head is past the bounds; else the declared body length."""
        target = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope.get("query_string", b"")
        )
        if target > self.max_line_bytes:
            raise RequestTooLarge(
                f"the request target must not exceed {self.max_line_bytes} bytes",
                kind=URI_TOO_LONG,
            )
        declared = self._check_headers(scope["headers"])
        if declared is None:
            return None
        if not declared.isdigit():
            raise MalformedRequest("the Content-Length header is not a number")
        length = int(declared)
        self.check_body(length, bound=self.body_bound(scope))
        return length

    def _check_headers(self, headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
        total = 0
        declared = None
        for name, value in headers:
            line = len(name) + len(value) + 2
            if line > self.max_line_bytes:
                raise RequestTooLarge(
                    f"a header line must not exceed {self.max_line_bytes} bytes",
                    kind=HEADER_TOO_LARGE,
                )
            total += line
            if name == b"content-length":
                declared = value.strip()
        if total > self.max_head_bytes:
            raise RequestTooLarge(
                f"the header lines together must not exceed {self.max_head_bytes} bytes",
                kind=HEADER_TOO_LARGE,
            )
        return declared

    def check_body(self, size: int, *, bound: int | None = None) -> None:
        """Raise if ``size`` bytes of body are past ``bound`` (default: the listener's)."""
        limit = self.max_body_bytes if bound is None else bound
        if size > limit:
            raise RequestTooLarge(f"the body must not exceed {limit} bytes", kind=TOO_LARGE)
