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

``memory://`` (the default, one count per worker) is :class:`SweptMemoryStorage`:
``limits``' memory storage, whose expired keys are swept by a timer thread it starts
anew, from the request, whenever the previous one has run (every 10 ms under load).
Starting a thread blocks the event loop until the thread runs: about a hundred stalls
of a millisecond or more a second on a busy worker. Here the sweep runs at most once a
second; expired counts are ignored on read all the same (``limits`` checks a key's expiry
on every read), so only the memory of stale keys waits for the sweep.

:meth:`Limiter.hit` raises :class:`RateLimited` past a limit and :class:`LimiterDown`
when the store does not answer: nothing is served that could not be counted.
"""

from __future__ import annotations

import threading
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
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


SWEEP_SECONDS = 1.0
"""How often the memory storage's expired keys are swept away."""


class SweptMemoryStorage(MemoryStorage):
    """``limits``' memory storage, its expired keys swept once a second (see the module)."""

    # Not registered: ``memory://`` stays limits' own storage for everyone else.
    STORAGE_SCHEME = None  # type: ignore[assignment]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        *,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.sweep_seconds = sweep_seconds
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private hook
        now = time.monotonic()
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            if now >= self._next_sweep:
                self._next_sweep = now + self.sweep_seconds
                sweep = self._MemoryStorage__expire_events  # type: ignore[attr-defined]
                self.timer = threading.Timer(0, sweep)
                self.timer.daemon = True
                self.timer.start()
        finally:
            self._sweep_lock.release()


# ``limits`` wraps these methods of every subclass in its error translation again: the
# parent's are wrapped already (twice was a tenth of the limiter's cost).
for _name in ("incr", "get", "get_expiry", "check", "reset", "clear"):
    setattr(SweptMemoryStorage, _name, getattr(MemoryStorage, _name))


def storage_for(uri: str) -> Storage:
    """The ``limits`` storage of ``uri``, failures wrapped (``memory://``: swept, above)."""
    if uri.split("://", 1)[0] == "memory":
        return SweptMemoryStorage(uri, wrap_exceptions=True)
    storage = storage_from_string(uri, wrap_exceptions=True)
    if not isinstance(storage, Storage):
        raise ValueError(f"not a synchronous limits storage: {uri.split('://', 1)[0]}")
    return storage


class Limiter:
    """The public service's limits over one ``limits`` storage."""

    def __init__(
        self, *, storage_uri: str, per_address: str, overall: str, storage: Storage | None = None
    ) -> None:
        """Counts in the store of ``storage_uri`` (or ``storage``, already built)."""
        self._storage = storage or storage_for(storage_uri)
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
