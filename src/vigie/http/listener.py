"""A listener's FastAPI app, with :class:`~vigie.http.middleware.ListenerMiddleware` outermost.

``app.add_middleware`` would put it inside Starlette's ``ServerErrorMiddleware``: the 500
that one sends for an unhandled error would then leave without the security headers, and
a request past the limits would reach it. Built outermost, every byte that leaves has
gone through it. A listener may set :attr:`Listener.front`: a layer between that
middleware and FastAPI that answers some requests itself (the processor API's hot
routes, :mod:`vigie.gateway.lean`) and still gets the request ids, limits, access lines,
metrics and security headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp

from vigie.http.limits import RequestLimits
from vigie.http.middleware import ListenerMiddleware
from vigie.http.probes import Probes

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class Listener(FastAPI):
    """A FastAPI app bounded by ``limits`` and sending the security headers on every answer.

    ``name`` labels its metrics and access lines (``api``, ``console``, ``public``);
    ``probes`` holds its readiness checks and who may read ``/metrics`` (default: no
    check, loopback only).
    """

    def __init__(
        self,
        *,
        limits: RequestLimits,
        name: str = "api",
        probes: Probes | None = None,
        **kwargs: Any,
    ) -> None:
        self.limits = limits
        self.listener_name = name
        self.probes = probes or Probes()
        self.front: Callable[[ASGIApp], ASGIApp] | None = None
        """Wraps FastAPI's stack, inside the listener's middleware (set before serving)."""
        # FastAPI's own OpenTelemetry spans, metrics and error logs are off: a listener's
        # metrics and access lines are Vigie's (vigie.http.middleware, free of personal
        # data), a span would carry the request's path (a person's pseudonym), and asking
        # on every request whether a provider is configured costs about 9 µs.
        kwargs.setdefault("telemetry", NO_TELEMETRY)
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        if self.front is not None:
            inner = self.front(inner)
        return ListenerMiddleware(
            inner,
            limits=self.limits,
            name=self.listener_name,
            probes=self.probes,
        )
