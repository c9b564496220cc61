"""Sweep: a large share of the processor's scope read in a short window, or a list walk
that goes through the scope.

Rules (streaming):

- ``share`` (HIGH): distinct people this hour reach ``share`` (10%) of the scope, and at
  least ``min_people`` (200).
- ``walk`` (HIGH): list pages (cursor walks) went through ``walk_share`` (25%) of the
  scope today, and at least ``min_people`` people.

A training provider reads its cohorts, a few percent of its scope a day; reading a tenth
of everyone in an hour, or paging through a quarter of the scope in a day, is
extraction.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.findings import Finding, Severity, Snapshot


@dataclass(frozen=True)
class SweepDetector:
    """Share of scope read in an hour, and list walks through the scope."""

    share: float = 0.10
    walk_share: float = 0.25
    min_people: int = 200
    name: str = "sweep"
    inline: bool = False

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        scope = snapshot.scope_size
        if scope <= 0:
            return []
        found: list[Finding] = []
        hour = snapshot.hour
        if hour.people >= self.min_people and hour.people >= self.share * scope:
            found.append(
                Finding(
                    self.name,
                    "share",
                    Severity.HIGH,
                    f"{hour.people / scope:.0%} of the scope read this hour",
                    {
                        "people_this_hour": hour.people,
                        "scope_size": scope,
                        "share_limit": self.share,
                    },
                    hour.start,
                )
            )
        walked = snapshot.day.listed
        if walked >= self.min_people and walked >= self.walk_share * scope:
            found.append(
                Finding(
                    self.name,
                    "walk",
                    Severity.HIGH,
                    f"list pages went through {walked / scope:.0%} of the scope today",
                    {
                        "listed_today": walked,
                        "scope_size": scope,
                        "walk_limit": self.walk_share,
                        "furthest_position": snapshot.day.cursor_max,
                    },
                    snapshot.day.start,
                )
            )
        return found
