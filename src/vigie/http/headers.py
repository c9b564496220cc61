"""The security headers every response of a listener carries.

A listener serves JSON to programs and, at most, pages built from its own files: nothing
in a response may load from, be framed by, or leak the address to another origin. A
response that needs more (the API documentation page runs its own scripts) sets its own
``Content-Security-Policy``; the others get :data:`API_CSP`, which allows nothing.
TLS and ``Strict-Transport-Security`` belong to the TLS proxy in front.
"""

from __future__ import annotations

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""The policy of every response that does not set its own: nothing may load or run."""

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
"""Sent on every response, whatever it sets itself."""

CSP = b"content-security-policy"


def secure(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` (raw ASGI, lower-case names) with the security headers added.

    The response's own ``Content-Security-Policy`` is kept; the others are added once.
    """
    names = {name for name, _ in headers}
    out = list(headers)
    out.extend(h for h in SECURITY_HEADERS if h[0] not in names)
    if CSP not in names:
        out.append((CSP, API_CSP.encode()))
    return out
