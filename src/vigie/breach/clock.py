"""The 72-hour clock of GDPR Art. 33(1), and the time source behind it.

Code that needs "now" takes a :class:`Clock`: :class:`SystemClock` in production,
:class:`FixedClock` in tests (and anywhere a reproducible moment matters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

NOTIFICATION_WINDOW = timedelta(hours=72)


class Clock(Protocol):
    """A source of the current time (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """The current moment."""


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that shows ``at`` until moved with :meth:`advance`."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self.at = self.at + delta


@dataclass(frozen=True)
class ReadClock:
    """A clock that asks ``read`` for the time (a listener's clock function, say)."""

    read: Callable[[], datetime]

    def now(self) -> datetime:
        return self.read()


def deadline(aware_at: datetime) -> datetime:
    """When the notification to the authority is due: 72 hours after awareness."""
    return aware_at + NOTIFICATION_WINDOW


def time_left(aware_at: datetime, now: datetime) -> timedelta:
    """Time left before the 72-hour deadline (negative once it has passed)."""
    return deadline(aware_at) - now


def format_time_left(aware_at: datetime, now: datetime) -> str:
    """``"41h 12m left"`` or ``"overdue by 5h 03m"``, for every place the clock is shown."""
    left = time_left(aware_at, now)
    seconds = int(abs(left.total_seconds()))
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    text = f"{hours}h {minutes:02d}m"
    return f"{text} left" if left >= timedelta(0) else f"overdue by {text}"
