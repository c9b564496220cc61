"""Probing: guessing pseudonyms (many failed look-ups) or asking for people whose
assignment has ended.

Rules (inline, decided on every request):

- ``guess-hour`` (MEDIUM, throttle): ``hour_limit`` (20) failed look-ups in an hour.
- ``guess-day`` (HIGH, suspend key): ``day_limit`` (100) failed look-ups in a day.
- ``expired`` (MEDIUM): ``expired_limit`` (50) requests for ended assignments in a day.
- ``expired-some`` (LOW): ``expired_notice`` (10) such requests in a day.

A provider's software asks for the people it was given; it mistypes or keeps an ended
person now and then, not by the dozen. A pseudonym is 128 bits: guessing finds nobody,
so each failure is a sign, and 100 of them contain the key well before 200.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.detection.findings import Finding, Severity, Snapshot


@dataclass(frozen=True)
class ProbeDetector:
    """Failed look-ups and expired-assignment requests."""

    hour_limit: int = 20
    day_limit: int = 100
    expired_notice: int = 10
    expired_limit: int = 50
    name: str = "probing"
    inline: bool = True

    def examine(self, snapshot: Snapshot) -> list[Finding]:
        found: list[Finding] = []
        day, hour = snapshot.day, snapshot.hour
        if day.not_found >= self.day_limit:
            found.append(
                Finding(
                    self.name,
                    "guess-day",
                    Severity.HIGH,
                    f"{day.not_found} failed look-ups today",
                    {"not_found_today": day.not_found, "limit": self.day_limit},
                    day.start,
                )
            )
        elif hour.not_found >= self.hour_limit:
            found.append(
                Finding(
                    self.name,
                    "guess-hour",
                    Severity.MEDIUM,
                    f"{hour.not_found} failed look-ups this hour",
                    {"not_found_this_hour": hour.not_found, "limit": self.hour_limit},
                    hour.start,
                )
            )
        if day.expired >= self.expired_limit:
            found.append(
                Finding(
                    self.name,
                    "expired",
                    Severity.MEDIUM,
                    f"{day.expired} requests for ended assignments today",
                    {"expired_today": day.expired, "limit": self.expired_limit},
                    day.start,
                )
            )
        elif day.expired >= self.expired_notice:
            found.append(
                Finding(
                    self.name,
                    "expired-some",
                    Severity.LOW,
                    f"{day.expired} requests for ended assignments today",
                    {"expired_today": day.expired, "limit": self.expired_notice},
                    day.start,
                )
            )
        return found
