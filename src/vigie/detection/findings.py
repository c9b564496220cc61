"""What detectors look at (:class:`Snapshot`) and what they say (:class:`Finding`).

Detectors are pure: they read a snapshot of one processor's figures, assembled from the
database by :mod:`vigie.detection.state`, and return findings. No I/O, no clock: the
time is the request time the gateway recorded (``Snapshot.at``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol


class Severity(StrEnum):
    """How bad an alert is; it decides the containment (see :mod:`~vigie.detection.containment`)."""

    LOW = "low"
    """Alert only."""
    MEDIUM = "medium"
    """Alert and throttle the key for a while."""
    HIGH = "high"
    """Alert and suspend the key (the processor too if several keys are at work)."""
    CRITICAL = "critical"
    """Alert and suspend the processor: every key at once."""

    @property
    def rank(self) -> int:
        """0 for low … 3 for critical."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class Counts:
    """A processor's figures over one window (an hour or a day)."""

    start: datetime | None = None
    requests: int = 0
    people: int = 0
    fresh: int = 0
    canaries: int = 0
    listed: int = 0
    not_found: int = 0
    expired: int = 0
    cursor_max: int = 0
    first_seq: int | None = None
    last_seq: int | None = None


@dataclass(frozen=True)
class History:
    """A processor's past days (the baseline period, today excluded)."""

    day_people: Sequence[int] = ()  # distinct people per active day
    day_fresh: Sequence[int] = ()  # people never read before, per active day
    fresh_by_date: Mapping[date, int] = field(default_factory=dict)  # same, by UTC day
    day_canaries: Sequence[int] = ()
    hour_of_day_requests: Sequence[int] = (0,) * 24  # requests by UTC hour of day
    expected_per_day: int | None = None  # declared on the processor's contracts

    @property
    def active_days(self) -> int:
        """Days with any activity in the baseline period."""
        return len(self.day_people)


@dataclass(frozen=True)
class Snapshot:
    """Everything detectors may look at, for one processor at one request."""

    processor_id: int
    key_id: int | None
    at: datetime
    hour: Counts
    day: Counts
    history: History | None = None  # None when only inline detectors run
    scope_size: int = 0
    active_keys: int = 1  # distinct keys of the processor used in the last hour
    new_origin: str | None = None  # network first seen on this request
    known_since: datetime | None = None  # first time this processor was seen


@dataclass(frozen=True)
class Finding:
    """A detector's verdict: one rule tripped, with the figures that tripped it."""

    detector: str
    rule: str
    severity: Severity
    summary: str
    figures: Mapping[str, Any] = field(default_factory=dict)
    window: datetime | None = None  # the window the rule is about (for de-duplication)
    about: str = ""  # what else identifies it (e.g. a network), for de-duplication

    def dedupe_key(self, processor_id: int | None) -> str:
        """One alert per detector, rule, processor and window."""
        window = self.window.isoformat() if self.window else "-"
        return f"{self.detector}:{self.rule}:{processor_id}:{window}:{self.about}"[:120]


class Detector(Protocol):
    """A detector: ``inline`` ones run on every request, the others on the streaming tick."""

    @property
    def name(self) -> str:
        """The detector's name, as alerts show it."""
        ...

    @property
    def inline(self) -> bool:
        """Whether it runs on every request (else on the streaming tick)."""
        ...

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        """The rules ``snapshot`` trips (empty when all is normal)."""
        ...
