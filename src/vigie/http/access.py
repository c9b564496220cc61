"""A request as operations see it: its id, its route template, its status and latency.

:class:`~vigie.http.middleware.ListenerMiddleware` opens an :class:`Access` for every
HTTP request and closes it once answered: one ``vigie.access`` log line at INFO and the
request metrics of :mod:`vigie.ops.metrics`. What it records is chosen here, structurally:
the listener's name, the method, the route *template* the router matched
(``/api/v1/subjects/{pseudonym}``, or ``<unmatched>``), the status, the latency, the
request id, and the processor's name when the app tagged one (:func:`tag`). The path
asked for, the query, the headers and the body are never read here: they may name people.

The request id is the client's ``X-Request-ID`` when it looks like an id (16 to 64 hex
digits and hyphens: a UUID, a trace id) — anything else might be a value, and is replaced
by a fresh id. It is echoed in the answer's ``X-Request-ID`` and set in
:data:`vigie.ops.logs.REQUEST_ID` for every log record written while the request runs.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field

from starlette.types import Scope

from vigie.ops import metrics

log = logging.getLogger("vigie.access")

HEADER = b"x-request-id"
_CLIENT_ID = re.compile(rb"[0-9A-Fa-f-]{16,64}")
_PROCESSOR = "vigie.processor"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id(scope: Scope) -> str:
    """The client's request id if it is shaped like one, else a fresh random one."""
    for name, value in scope["headers"]:
        if name == HEADER:
            if _CLIENT_ID.fullmatch(value):
                return bytes(value).decode()
            break
    return os.urandom(16).hex()


def tag(scope: Scope, *, processor: str | None) -> None:
    """Name the processor a request came from, for its access line and metrics."""
    if processor is not None:
        scope[_PROCESSOR] = processor


def route_of(scope: Scope) -> str:
    """The template of the route that served ``scope``, or ``<unmatched>``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else metrics.UNMATCHED


@dataclass
class Access:
    """One HTTP request being served by the listener ``listener``."""

    listener: str
    scope: Scope
    id: str = ""
    status: int = 0
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.id = self.id or request_id(self.scope)

    def close(self, *, route: str | None = None) -> None:
        """Record the answered request: metrics, then the access line."""
        elapsed = time.perf_counter() - self.started
        route = route or route_of(self.scope)
        method = self.scope["method"] if self.scope["method"] in METHODS else "OTHER"
        status = self.status or 500  # nothing was sent: the server answers 500
        metrics.child(metrics.REQUESTS, self.listener, route, method, str(status)).inc()
        metrics.child(metrics.LATENCY, self.listener, route).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            # Built here rather than by log.info(): no caller look-up, the hot path's cost.
            fields = {
                "listener": self.listener,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 3),
                "processor": self.scope.get(_PROCESSOR),
            }
            record = log.makeRecord(
                log.name, logging.INFO, __file__, 0, "request", (), None, extra=fields
            )
            log.handle(record)
