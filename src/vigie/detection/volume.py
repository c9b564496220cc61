"""Volume: distinct people disclosed, against the processor's own normal day.

Rules (streaming):

- ``day`` (HIGH): distinct people today exceed the normal day (see
  :mod:`~vigie.detection.baseline`) by more than ``day_margin`` (300).
- ``fresh`` (HIGH): people this processor had never received before, today, exceed the
  normal day's by more than ``day_margin``. A provider re-reads its cohorts; a thief
  walks through people nobody there ever read, so this trips first on a stolen key.
- ``fresh-week`` (HIGH): people never read before over the last 7 days exceed
  ``week_factor`` (2) × their usual weekly count (median over the baseline period) +
  a slack of ``max(week_slack, week_slack_share × normal day)`` (15, 0.5). Catches a
  drip at the provider's pace and hours: a provider's new people arrive with new
  cohorts, a thief's are all new. Needs 14 days of history.
- ``hour`` (MEDIUM, throttle): distinct people this hour exceed
  ``max(hour_floor, normal day × hour_share)`` (100, 1.0): a whole normal day in one
  hour (a provider may read a whole cohort in one session, not its whole day).

The margin bounds what a stolen key takes beyond a normal day: 300, plus the streaming
delay (``detection_eval_every_people``) and one page.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.baseline import (
    normal_day_fresh,
    normal_day_people,
    normal_week_fresh,
    week_fresh,
)
from vigie.detection.findings import Finding, Severity, Snapshot


@dataclass(frozen=True)
class VolumeDetector:
    """Distinct people per hour and per day against the processor's baseline."""

    day_margin: int = 300
    hour_floor: int = 100
    hour_share: float = 1.0
    week_factor: float = 2.0
    week_slack: int = 15
    week_slack_share: float = 0.5
    name: str = "volume"
    inline: bool = False

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        history = snapshot.history
        if history is None:
            return []
        found: list[Finding] = []
        normal = normal_day_people(history)
        day_limit = normal + self.day_margin
        if snapshot.day.people > day_limit:
            found.append(
                Finding(
                    self.name,
                    "day",
                    Severity.HIGH,
                    f"{snapshot.day.people} distinct people today, normal day {normal}",
                    {"people_today": snapshot.day.people, "normal_day": normal, "limit": day_limit},
                    snapshot.day.start,
                )
            )
        fresh_normal = normal_day_fresh(history)
        fresh_limit = fresh_normal + self.day_margin
        if snapshot.day.fresh > fresh_limit:
            found.append(
                Finding(
                    self.name,
                    "fresh",
                    Severity.HIGH,
                    f"{snapshot.day.fresh} people never read before, today; normal day "
                    f"{fresh_normal}",
                    {
                        "fresh_today": snapshot.day.fresh,
                        "normal_day_fresh": fresh_normal,
                        "limit": fresh_limit,
                    },
                    snapshot.day.start,
                )
            )
        found += self._week(snapshot)
        hour_limit = max(self.hour_floor, int(normal * self.hour_share))
        if snapshot.hour.people > hour_limit:
            found.append(
                Finding(
                    self.name,
                    "hour",
                    Severity.MEDIUM,
                    f"{snapshot.hour.people} distinct people this hour, limit {hour_limit}",
                    {
                        "people_this_hour": snapshot.hour.people,
                        "normal_day": normal,
                        "limit": hour_limit,
                    },
                    snapshot.hour.start,
                )
            )
        return found

    def _week(self, snapshot: Snapshot) -> list[Finding]:
        assert snapshot.history is not None
        today = snapshot.at.date()
        usual = normal_week_fresh(snapshot.history, today=today)
        if usual is None:
            return []
        week = week_fresh(snapshot.history, today=today, today_fresh=snapshot.day.fresh)
        slack = max(
            self.week_slack, int(self.week_slack_share * normal_day_people(snapshot.history))
        )
        limit = int(self.week_factor * usual) + slack
        if week <= limit:
            return []
        return [
            Finding(
                self.name,
                "fresh-week",
                Severity.HIGH,
                f"{week} people never read before in 7 days; usual week {usual}",
                {"fresh_7_days": week, "usual_week": usual, "limit": limit},
                snapshot.day.start,
            )
        ]
