"""Rate limits of the public service, on the ``limits`` library; failing closed.

Two kinds of limit, each a ``limits`` rate string from the settings:

- per client address (``public_rate_per_address``): each endpoint counted apart;
- for the whole service (``public_rate_global``): each endpoint counted apart.

Counted with the sliding window counter (two counters per key: this window and the one
before, weighted by how much of it still overlaps): constant work per hit whatever the
limit, where a moving window keeps and shifts one entry per hit in the window (at
1,000 requests a second, tens of thousands of entries per key). It approximates the
moving window (it takes the previous window's hits as evenly spread); the hits counted
in one window never exceed the limit.

(Messages to one contact are capped in the store, off the request path:
:mod:`vigie.public.caps`.)

:meth:`Limiter.hit` raises :class:`RateLimited` past a limit and :class:`LimiterDown`
when the store does not answer: nothing is served that could not be counted.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from vigie.errors import Denied, VigieError
from vigie.settings import Settings


class RateLimited(Denied):
    """A limit is reached; ``retry_after`` seconds until the window frees a slot."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class LimiterDown(VigieError):
    """The limiter's store does not answer: the service refuses rather than serve uncounted."""


class Limiter:
    """The public service's limits over one ``limits`` storage."""

    def __init__(self, *, storage_uri: str, per_address: str, overall: str) -> None:
        self._storage = storage_from_string(storage_uri, wrap_exceptions=True)
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self.per_address = parse(per_address)
        self.overall = parse(overall)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limiter:
        """The limits configured by ``public_*`` settings."""
        return cls(
            storage_uri=settings.public_limits_storage,
            per_address=settings.public_rate_per_address,
            overall=settings.public_rate_global,
        )

    def hit(self, item: RateLimitItem, *keys: str) -> None:
        """Count one hit of ``item`` for ``keys``; raise past the limit or if the store fails."""
        try:
            allowed = self._limiter.hit(item, *keys)
            if allowed:
                return
            reset = self._limiter.get_window_stats(item, *keys).reset_time
        except Exception as exc:  # any failure of the store: refuse
            raise LimiterDown("the rate limiter does not answer") from exc
        raise RateLimited("too many requests", retry_after=max(1, int(reset - time.time()) + 1))

    def request(self, endpoint: str, *, address: str) -> None:
        """Count a request to ``endpoint`` from ``address``: overall, then for the address."""
        self.hit(self.overall, "global", endpoint)
        self.hit(self.per_address, "address", endpoint, address)

    def reset(self) -> None:
        """Forget every count (tests, benchmarks)."""
        self._storage.reset()
