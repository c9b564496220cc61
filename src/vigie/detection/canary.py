"""Canaries: synthetic people mixed into each processor's scope.

A provider reads the canaries of its cohorts like anyone else, at its usual pace. An
extraction collects them by the dozen. A *trip* (someone contacting a canary's e-mail
address or phone number, see :mod:`vigie.fingerprint.trips`) is proof that data left,
and raises the highest severity directly.

Rule (streaming):

- ``pattern`` (HIGH): distinct canaries disclosed today exceed
  ``factor`` (2) × the normal day's canaries + ``slack`` (10).
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.baseline import normal_day_canaries
from vigie.detection.findings import Finding, Severity, Snapshot

TRIP_DETECTOR = "canary-trip"


@dataclass(frozen=True)
class CanaryDetector:
    """Canaries disclosed far beyond the processor's normal day."""

    factor: float = 2.0
    slack: int = 10
    name: str = "canary"
    inline: bool = False

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        if snapshot.history is None:
            return []
        normal = normal_day_canaries(snapshot.history)
        limit = int(self.factor * normal) + self.slack
        if snapshot.day.canaries <= limit:
            return []
        return [
            Finding(
                self.name,
                "pattern",
                Severity.HIGH,
                f"{snapshot.day.canaries} canaries disclosed today, normal day {normal}",
                {"canaries_today": snapshot.day.canaries, "normal_day": normal, "limit": limit},
                snapshot.day.start,
            )
        ]
