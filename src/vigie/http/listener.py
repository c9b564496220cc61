"""A listener's FastAPI app, with :class:`~vigie.http.middleware.ListenerMiddleware` outermost.

``app.add_middleware`` would put it inside Starlette's ``ServerErrorMiddleware``: the 500
that one sends for an unhandled error would then leave without the security headers, and
a request past the limits would reach it. Built outermost, every byte that leaves has
gone through it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from vigie.http.limits import RequestLimits
from vigie.http.middleware import ListenerMiddleware
from vigie.http.probes import Probes


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
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return ListenerMiddleware(
            super().build_middleware_stack(),
            limits=self.limits,
            name=self.listener_name,
            probes=self.probes,
        )
