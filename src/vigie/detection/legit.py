"""Legitimate traffic: a training provider's ordinary working days, to measure false alarms.

A provider runs cohorts (``cohort_size`` people, ``cohort_weeks`` weeks long); a new cohort
starts every Monday from people it has never seen (its intake). Each working day it holds
``sessions_per_day`` sessions (09:00 and 14:00 UTC, give or take a quarter of an hour); for
each attendee its software reads the person (``GET /api/v1/subjects/{pseudonym}``) and,
a few seconds later, writes the attendance back (``POST …/events``). Now and then an
operator mistypes a pseudonym (``typo_rate``): a 404.

The provider knows its people's pseudonyms the way a real one does (from the convocation
the controller sends it); the benchmark derives them. The plan of a day is a list of
timed requests; :func:`run_day` merges every provider's plan in time order and plays it
over HTTP, moving the gateway's :class:`~vigie.detection.pacing.DrivenClock` to each
request's time.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from vigie.detection.pacing import DrivenClock


@dataclass(frozen=True)
class Planned:
    """One request a provider will make."""

    at: datetime
    provider: str
    token: str
    method: str
    path: str
    body: dict[str, Any] | None = None


@dataclass
class Cohort:
    """People following a course together."""

    people: list[str]
    starts: date
    weeks: int

    def active(self, day: date) -> bool:
        """Whether the course runs on ``day``."""
        return self.starts <= day < self.starts + timedelta(weeks=self.weeks)


@dataclass
class Routine:
    """One provider's way of working, and the people it will get."""

    name: str
    token: str
    intake: deque[str]  # pseudonyms of people not yet in a cohort
    cohort_size: int = 20
    cohort_weeks: int = 4
    sessions_per_day: int = 2
    typo_rate: float = 0.003
    writes: bool = True  # whether its contract lets it write attendance back
    cohorts: list[Cohort] = field(default_factory=list)

    def start(self, day: date, rng: random.Random) -> None:
        """Cohorts already running on ``day`` (started in the weeks before)."""
        monday = day - timedelta(days=day.weekday())
        for weeks_ago in range(self.cohort_weeks - 1, 0, -1):
            self._new_cohort(monday - timedelta(weeks=weeks_ago), rng)

    def _new_cohort(self, starts: date, rng: random.Random) -> None:
        size = max(1, round(self.cohort_size * rng.uniform(0.75, 1.25)))
        people = [self.intake.popleft() for _ in range(min(size, len(self.intake)))]
        if people:
            self.cohorts.append(Cohort(people, starts, self.cohort_weeks))

    def plan(self, day: date, rng: random.Random) -> list[Planned]:
        """The requests of ``day`` (none on weekends)."""
        if day.weekday() >= 5:
            return []
        if day.weekday() == 0:
            self._new_cohort(day, rng)
        active = [c for c in self.cohorts if c.active(day)]
        if not active:
            return []
        planned: list[Planned] = []
        for n in range(self.sessions_per_day):
            cohort = active[(day.toordinal() + n) % len(active)]
            hour = 9 if n % 2 == 0 else 14
            at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
            at += timedelta(minutes=rng.uniform(-15, 15) + 60 * (n // 2))
            for person in cohort.people:
                at += timedelta(seconds=rng.uniform(5, 40))
                target = person
                if rng.random() < self.typo_rate:
                    target = person[:-1] + ("a" if person[-1] != "a" else "b")
                path = f"/api/v1/subjects/{target}"
                planned.append(Planned(at, self.name, self.token, "GET", path))
                if target == person and self.writes:
                    at += timedelta(seconds=rng.uniform(3, 20))
                    body = {"attendance_hours": 3}
                    planned.append(
                        Planned(at, self.name, self.token, "POST", path + "/events", body)
                    )
        return planned


@dataclass
class DayReport:
    """What a day of legitimate traffic met."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # provider -> 401/403/429 count
    reasons: Counter[str] = field(default_factory=Counter)  # problem detail -> count


def run_day(
    client: httpx.Client,
    *,
    clock: DrivenClock,
    routines: Sequence[Routine],
    day: date,
    rng: random.Random,
) -> DayReport:
    """Play one day of every provider's plan, in time order, over HTTP."""
    plans = sorted((p for routine in routines for p in routine.plan(day, rng)), key=lambda p: p.at)
    report = DayReport()
    for planned in plans:
        clock.set(planned.at)
        response = client.request(
            planned.method,
            planned.path,
            json=planned.body,
            headers={"Authorization": f"Bearer {planned.token}"},
        )
        report.requests += 1
        report.statuses[response.status_code] += 1
        if response.status_code in (401, 403, 429):
            report.refused[planned.provider] += 1
            report.reasons[_detail(response)] += 1
    return report


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.status_code))[:120]
    except ValueError:
        return str(response.status_code)
