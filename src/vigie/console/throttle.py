"""Sign-in throttling, per account and per client address (the ``limits`` library).

Failed attempts are counted in a moving window; once an account or an address has used
its allowance, :meth:`SignInThrottle.check` raises :class:`Throttled` before the password
is even looked at, until the window moves on. Counts live in memory, per process: with
several console workers each holds its own (the allowance is per worker).
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from vigie.errors import Denied
from vigie.settings import Settings


class Throttled(Denied):
    """Too many failed sign-ins for this account or from this address."""


class SignInThrottle:
    """Counts failed sign-ins; refuses further tries past the allowances."""

    def __init__(self, *, per_account: str, per_address: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._account: RateLimitItem = parse(per_account)
        self._address: RateLimitItem = parse(per_address)

    @classmethod
    def of(cls, settings: Settings) -> SignInThrottle:
        return cls(
            per_account=settings.console_login_per_account,
            per_address=settings.console_login_per_address,
        )

    def check(self, *, login: str, address: str) -> None:
        """Raise :class:`Throttled` if either allowance is used up."""
        if not self._limiter.test(self._account, "account", login) or not self._limiter.test(
            self._address, "address", address
        ):
            raise Throttled("too many failed sign-ins; wait and try again")

    def failed(self, *, login: str, address: str) -> None:
        """Count one failed attempt against both."""
        self._limiter.hit(self._account, "account", login)
        self._limiter.hit(self._address, "address", address)
