"""Sweep: a large share of the processor's scope read in a short window, or a list walk
that goes through the scope.

Rules (streaming):

- ``share`` (HIGH): distinct people this hour reach ``share`` (10%) of the scope, and at
  least ``min_people`` (200).
- ``most`` (HIGH): distinct people this hour reach ``most_share`` (50%) of the scope, and
  at least ``most_min_people`` (20), and more than the normal day declared on the
  processor's contracts (``expected_per_day``). The rule for small scopes, where 200
  people is the whole scope: 121 people read in a second, all of a 121-person scope, is
  a finding whatever the absolute figures. Under 20 people it stays silent (a whole
  tiny scope is one cohort). A processor whose declared day covers what was read — a
  nightly synchronisation of its whole scope, declared as such — is not flagged; only
  the declaration counts, not the learnt history, which a patient thief could raise.
- ``walk`` (HIGH): list pages (cursor walks) went through ``walk_share`` (25%) of the
  scope today, and at least ``min_people`` people.

A training provider reads its cohorts, a few percent of its scope a day; reading a tenth
of everyone in an hour, most of a small scope at once, or paging through a quarter of
the scope in a day, is extraction.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.findings import Finding, Severity, Snapshot


@dataclass(frozen=True)
class SweepDetector:
    """Share of scope read in an hour (a tenth, or most of a small one), and list walks."""

    share: float = 0.10
    walk_share: float = 0.25
    min_people: int = 200
    most_share: float = 0.50
    most_min_people: int = 20
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
        found += self._most(snapshot, scope)
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

    def _most(self, snapshot: Snapshot, scope: int) -> list[Finding]:
        hour = snapshot.hour
        if hour.people < max(self.most_min_people, self.most_share * scope):
            return []
        declared = snapshot.history.expected_per_day if snapshot.history else None
        if declared is not None and hour.people <= declared:
            return []  # the processor's declared day reads this many: a declared sync
        return [
            Finding(
                self.name,
                "most",
                Severity.HIGH,
                f"{hour.people / scope:.0%} of a {scope:,}-person scope read this hour",
                {
                    "people_this_hour": hour.people,
                    "scope_size": scope,
                    "most_limit": self.most_share,
                    "declared_per_day": declared,
                },
                hour.start,
            )
        ]
