"""Time for the simulators: real time against a real server, or a clock the simulator drives.

Detectors judge by the request time the gateway records (``Access.at``), never by the
wall clock. So a simulation of 30 days can run in minutes if — and only if — the
gateway's clock is the one the simulator moves: the benchmark builds the gateway with
``create_app(..., clock=clock)`` where ``clock`` is a :class:`DrivenClock`, and hands the
simulator a :class:`DrivenPacer` on the same clock; "sleeping" then moves the clock.

``vigie attack`` against a running ``vigie serve`` uses :class:`RealPacer`: real time,
optionally with waits divided by ``time_scale``. The server still sees real time, so a
compressed ``mimic`` looks faster than the provider it imitates; the faithful 30-day
figures come from the benchmark.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Pacer(Protocol):
    """Where a simulator gets the time and how it waits."""

    def now(self) -> datetime:
        """The current (real or simulated) time, UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (real or simulated)."""
        ...


class RealPacer:
    """Real time; waits are divided by ``time_scale`` (1 = as a real attacker would)."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._start_real = time.monotonic()
        self._start = datetime.now(UTC)

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._start_real) * self.time_scale
        return self._start + timedelta(seconds=elapsed)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.time_scale)


class DrivenClock:
    """A clock the simulator moves; call it for the time (the gateway's ``clock``)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start")
        self._at = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, seconds: float) -> None:
        """Move forward (never back)."""
        if seconds > 0:
            with self._lock:
                self._at += timedelta(seconds=seconds)

    def set(self, at: datetime) -> None:
        """Jump forward to ``at`` (ignored if it is in the past)."""
        with self._lock:
            self._at = max(self._at, at)


class DrivenPacer:
    """Simulated time: sleeping advances the shared :class:`DrivenClock` at once."""

    def __init__(self, clock: DrivenClock, *, request_seconds: float = 0.2) -> None:
        self.clock = clock
        self.request_seconds = request_seconds  # modelled duration of one request

    def now(self) -> datetime:
        return self.clock()

    def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
