"""Sweep: a large share of the processor's scope read in a short window, or a list walk
that goes through the scope.

Rules (streaming):

- ``share`` (HIGH): distinct people this hour reach ``share`` (10%) of the scope, and at
  least ``min_people`` (200).
- ``walk`` (HIGH): a list walk (cursor) went through ``walk_share`` (20%) of the scope
  this hour, and at least ``min_people`` positions.

A training provider reads its cohorts, a few percent of its scope a day; reading a tenth
of everyone in an hour, or paging through a fifth of the scope, is extraction.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.findings import Finding, Severity, Snapshot


@dataclass(frozen=True)
class SweepDetector:
    """Share of scope read in an hour, and list walks through the scope."""

    share: float = 0.10
    walk_share: float = 0.20
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
        walked = min(hour.cursor_max, scope)
        if walked >= self.min_people and walked >= self.walk_share * scope:
            found.append(
                Finding(
                    self.name,
                    "walk",
                    Severity.HIGH,
                    f"a list walk went through {walked / scope:.0%} of the scope this hour",
                    {
                        "cursor_position": hour.cursor_max,
                        "scope_size": scope,
                        "walk_limit": self.walk_share,
                    },
                    hour.start,
                )
            )
        return found
