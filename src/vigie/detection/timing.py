"""Rare time of day: a processor working at an hour it (almost) never works.

Rule (streaming):

- ``rare-hour`` (LOW): this UTC hour of day holds less than ``rare_share`` (0.5%) of the
  processor's requests over the baseline period, that period holds at least
  ``min_history`` (500) requests, and this hour already saw ``min_requests`` (10).

Alone it is only a hint (a late office, a batch job), hence LOW; it goes into the case
file and weighs in when something else trips.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.findings import Finding, Severity, Snapshot


@dataclass(frozen=True)
class RareHourDetector:
    """Requests at an hour of day that is rare for this processor."""

    rare_share: float = 0.005
    min_history: int = 500
    min_requests: int = 10
    name: str = "rare-hour"
    inline: bool = False

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        history = snapshot.history
        if history is None or snapshot.hour.requests < self.min_requests:
            return []
        total = sum(history.hour_of_day_requests)
        if total < self.min_history:
            return []
        hour = snapshot.at.hour
        share = history.hour_of_day_requests[hour] / total
        if share >= self.rare_share:
            return []
        return [
            Finding(
                self.name,
                "rare-hour",
                Severity.LOW,
                f"{snapshot.hour.requests} requests at {hour:02d}h UTC, an hour holding "
                f"{share:.2%} of this processor's usual requests",
                {
                    "hour_of_day": hour,
                    "usual_share": round(share, 5),
                    "requests_this_hour": snapshot.hour.requests,
                },
                snapshot.hour.start,
            )
        ]
