"""The pure-ASGI layer every listener sits behind (cheaper than Starlette's BaseHTTPMiddleware).

For each HTTP request it

- gives it a request id (echoed in ``X-Request-ID``), and once answered writes its access
  line and request metrics (:mod:`vigie.http.access`);
- answers ``/health``, ``/ready`` and ``/metrics`` itself (:mod:`vigie.http.probes`);
- refuses a head past the listener's :class:`~vigie.http.limits.RequestLimits` (414, 431;
  413 for a declared body too large) before the app sees it, and a streamed body as soon
  as it passes the bound (413, whatever the app does with the error it gets while reading);
- adds the security headers of :mod:`vigie.http.headers` to every response;
- turns a client that goes away while its body is read (Starlette's ``ClientDisconnect``)
  into an aborted request: one line at INFO, no traceback, and nothing sent after the
  client left (not even the 500 Starlette's error middleware sends for it). The app had
  not started its work, so nothing was disclosed nor recorded.

It must be the outermost layer (see :class:`~vigie.http.listener.Listener`).

Nothing here logs a path, a header or a body: they may name people.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigie.http import probes
from vigie.http.access import HEADER, Access
from vigie.http.headers import secure
from vigie.http.limits import MalformedRequest, RequestLimits, RequestTooLarge
from vigie.http.probes import Probes
from vigie.http.problems import PROBLEM_JSON, problem_body
from vigie.ops.logs import REQUEST_ID, Code

log = logging.getLogger(__name__)


class ListenerMiddleware:
    """Wraps the ASGI ``app`` of the listener ``name``: request ids, access lines and
    metrics, probes, limits, security headers, aborted requests."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RequestLimits,
        name: str = "api",
        probes: Probes | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.name = name
        self.probes = probes or Probes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access = Access(self.name, scope)
        token = REQUEST_ID.set(access.id)
        stamp = (HEADER, access.id.encode())

        async def stamped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                access.status = message["status"]
                message["headers"] = [*message.get("headers", ()), stamp]
            await send(message)

        try:
            await self._serve(scope, receive, stamped_send, access)
        finally:
            REQUEST_ID.reset(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, access: Access) -> None:
        if scope["path"] in probes.PATHS and await probes.answer(self.probes, scope, send):
            access.close(route=scope["path"])
            return
        try:
            self.limits.check_head(scope)
        except (RequestTooLarge, MalformedRequest) as exc:
            await _refuse(send, exc)
            access.close()
            return
        limits = self.limits
        bound = limits.body_bound(scope)
        received = 0
        tripped: RequestTooLarge | None = None
        answered = False  # by the app, or by us in its place
        gone = False  # the client left: nothing more is sent

        async def bounded_receive() -> Message:
            nonlocal received, tripped, gone
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
            elif message["type"] == "http.request":
                received += len(message.get("body", b""))
                try:
                    limits.check_body(received, bound=bound)
                except RequestTooLarge as exc:
                    tripped = exc
                    raise
            return message

        async def secure_send(message: Message) -> None:
            nonlocal answered
            if gone:
                return  # e.g. the 500 Starlette sends for the ClientDisconnect it saw
            if message["type"] == "http.response.start":
                if tripped is not None and not answered:
                    answered = True  # the app answers its own error: answer 413 instead
                    await _refuse(send, tripped)
                    return
                answered = True
                message["headers"] = secure(list(message.get("headers", ())))
            elif tripped is not None:
                return  # the body of the app's answer we replaced
            await send(message)

        try:
            await self.app(scope, bounded_receive, secure_send)
        except RequestTooLarge as exc:
            if not answered:
                await _refuse(send, exc)
        except ClientDisconnect:
            log.info("request aborted: the client left while sending it")
            access.status = 499  # nginx's "client closed request"
        finally:
            access.close()


async def _refuse(send: Send, exc: RequestTooLarge | MalformedRequest) -> None:
    log.info("request refused: %s", Code(exc.kind.slug))
    body = problem_body(exc.kind, str(exc))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send(
        {"type": "http.response.start", "status": exc.kind.status, "headers": secure(headers)}
    )
    await send({"type": "http.response.body", "body": body})
