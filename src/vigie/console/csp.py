"""The console's Content-Security-Policy: its own files only, no inline script or style.

:class:`~vigie.http.listener.Listener` sends the API's policy (nothing may load) on any
response without one of its own; :class:`ConsolePolicy` gives every console response this
one instead, so that its pages may load their stylesheet, htmx and images from the
console's own origin, and nothing else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
_HEADER = b"content-security-policy"


class ConsolePolicy:
    """Adds :data:`CONSOLE_CSP` to every response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0] != _HEADER]
                headers.append((_HEADER, CONSOLE_CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_policy)
