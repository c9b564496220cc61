"""``/health``, ``/ready`` and ``/metrics``: the same three answers on every listener.

- ``GET /health`` answers 200 while the process serves: it checks nothing else, so an
  orchestrator restarts a worker only when it is really stuck.
- ``GET /ready`` runs the listener's :class:`ReadyCheck` s (store reachable, audit trail
  writable, secrets loaded...) and answers 200, or 503 with the *names* of the checks that
  failed (never their errors: an error may carry a value). A load balancer sends traffic
  only to a ready listener.
- ``GET /metrics`` answers the Prometheus exposition (:mod:`vigie.ops.metrics`) to a
  client whose address is in ``metrics_allow``; to any other, the listener answers as to
  a path it does not serve (404), so the endpoint's existence is not disclosed.

:class:`~vigie.http.middleware.ListenerMiddleware` answers them before the app runs.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import anyio
import orjson
from starlette.types import Scope, Send

from vigie.http.headers import secure
from vigie.ops.logs import Code
from vigie.ops.metrics import exposition
from vigie.settings import Settings

log = logging.getLogger(__name__)

HEALTH, READY, METRICS = "/health", "/ready", "/metrics"
PATHS = frozenset({HEALTH, READY, METRICS})
LOOPBACK = ("127.0.0.1/32", "::1/128")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ReadyCheck:
    """One condition of readiness: ``run`` raises if it does not hold (blocking is fine)."""

    name: str
    run: Callable[[], object]


@dataclass(frozen=True)
class Probes:
    """A listener's readiness checks and the networks allowed to read its metrics."""

    checks: Sequence[ReadyCheck] = ()
    metrics_allow: tuple[Network, ...] = field(default_factory=lambda: networks(LOOPBACK))

    @classmethod
    def of(cls, settings: Settings, *, checks: Sequence[ReadyCheck] = ()) -> Probes:
        """``checks``, with the metrics readers of ``settings`` (``metrics_allow``)."""
        return cls(checks=tuple(checks), metrics_allow=networks(settings.metrics_allow))

    def may_scrape(self, scope: Scope) -> bool:
        """Whether the client of ``scope`` is in ``metrics_allow``."""
        client = scope.get("client")
        if not client:
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(address in net for net in self.metrics_allow)

    def failing(self) -> list[str]:
        """The names of the checks that fail now (each runs in full, in order)."""
        failed = []
        for check in self.checks:
            try:
                check.run()
            except Exception as exc:
                error = Code(type(exc).__name__)
                log.warning("readiness check failed: %s (%s)", Code(check.name), error)
                failed.append(check.name)
        return failed


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """``cidrs`` parsed; raises ``ValueError`` on a malformed one."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


async def answer(probes: Probes, scope: Scope, send: Send) -> bool:
    """Answer the probe ``scope`` asks for; False when it is no probe for this client."""
    path = scope["path"]
    if path not in PATHS or scope["method"] != "GET":
        return False
    if path == HEALTH:
        await _send(send, 200, b'{"status":"ok"}', "application/json")
    elif path == READY:
        failed = await anyio.to_thread.run_sync(probes.failing)
        if failed:
            body = orjson.dumps({"status": "unready", "failed": failed})
            await _send(send, 503, body, "application/json")
        else:
            await _send(send, 200, b'{"status":"ready"}', "application/json")
    else:
        if not probes.may_scrape(scope):
            return False
        body, media = await anyio.to_thread.run_sync(exposition)
        await _send(send, 200, body, media)
    return True


async def _send(send: Send, status: int, body: bytes, media: str) -> None:
    headers = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": secure(headers)})
    await send({"type": "http.response.body", "body": body})
