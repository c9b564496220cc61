"""What every listener shares: problem+json, security headers, size limits, aborted requests.

:class:`~vigie.http.middleware.ListenerMiddleware` wraps a listener's ASGI app (the
gateway's today; the console's and the public service's later) so that these hold
whatever server runs it.
"""
