"""Anti-forgery checks on every state-changing request of the console.

Two locks, both must hold:

- the request comes from the console's own pages: a browser's ``Sec-Fetch-Site`` (or,
  failing it, ``Origin``) names no other site;
- it carries the session's token, as the form field ``csrf`` or, for htmx, the header
  ``X-CSRF-Token``.

The session cookie is also ``SameSite=Strict``, so another site cannot even send it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from vigie.errors import Denied

FIELD = "csrf"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Forged(Denied):
    """A state change without the session's anti-forgery token, or from another site."""


def check_origin(headers: Mapping[str, str], *, host: str) -> None:
    """Raise :class:`Forged` if the browser says the request comes from another site."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forged("the request comes from another site")
    origin = headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != host:
        raise Forged("the request comes from another origin")


def check_token(expected: str, *, field: str | None, header: str | None) -> None:
    """Raise :class:`Forged` unless the form field or the header holds ``expected``."""
    given = header or field or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forged("the anti-forgery token is missing or wrong; reload the page")
