"""Volume detector: distinct people per hour and day against the processor's own baseline."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from vigie.detection.baseline import DEFAULT_EXPECTED_PER_DAY, normal_day_people, normal_week_fresh
from vigie.detection.findings import History, Severity
from vigie.detection.volume import VolumeDetector

from .helpers import snap, steady

NEW = History(expected_per_day=200)  # no history: the contract's declared volume

CASES = [
    # (history, hour, day, expected rules)
    (steady(400), {"people": 100}, {"people": 400, "fresh": 40}, []),
    (steady(400), {"people": 150}, {"people": 700, "fresh": 40}, []),  # busy, at the limit
    (steady(400), {"people": 150}, {"people": 701, "fresh": 40}, ["day"]),
    (steady(400), {"people": 150}, {"people": 650, "fresh": 341}, ["fresh"]),
    (steady(400), {"people": 401}, {"people": 500, "fresh": 10}, ["hour"]),
    (steady(400), {"people": 400}, {"people": 500, "fresh": 10}, []),
    (steady(10), {"people": 101}, {"people": 101, "fresh": 5}, ["hour"]),  # hour floor 100
    (steady(10), {"people": 90}, {"people": 311, "fresh": 5}, ["day"]),
    (NEW, {"people": 90}, {"people": 500, "fresh": 500}, []),  # declared 200 + 300
    (NEW, {"people": 90}, {"people": 501, "fresh": 501}, ["day", "fresh"]),
    (None, {"people": 10_000}, {"people": 10_000}, []),  # inline pass: no baseline, no verdict
]


@pytest.mark.parametrize(("history", "hour", "day", "rules"), CASES)
def test_volume_rules(
    history: History | None, hour: dict[str, int], day: dict[str, int], rules: list[str]
) -> None:
    found = VolumeDetector().examine(snap(hour=hour, day=day, history=history))
    assert sorted(f.rule for f in found) == sorted(rules)


def test_severities_and_evidence() -> None:
    found = {
        f.rule: f
        for f in VolumeDetector().examine(
            snap(hour={"people": 500}, day={"people": 900, "fresh": 900}, history=steady(100))
        )
    }
    assert found["day"].severity is Severity.HIGH
    assert found["fresh"].severity is Severity.HIGH
    assert found["hour"].severity is Severity.MEDIUM
    assert found["day"].figures == {"people_today": 900, "normal_day": 100, "limit": 400}


@pytest.mark.parametrize(
    ("history", "normal"),
    [
        (History(), DEFAULT_EXPECTED_PER_DAY),
        (History(expected_per_day=70), 70),
        (History(day_people=(500, 900, 10, 10), expected_per_day=70), 70),  # 4 days: too few
        (History(day_people=(500, 900, 10, 10, 20), expected_per_day=70), 900),
    ],
)
def test_baseline_falls_back_to_the_contract(history: History, normal: int) -> None:
    assert normal_day_people(history) == normal


def _weekly(per_monday: int, extra: dict[int, int] | None = None, normal: int = 80) -> History:
    """28 days of history: a cohort of ``per_monday`` new people each Monday."""
    today = date(2026, 3, 2)  # a Monday
    by_date = {
        today - timedelta(days=d): (per_monday if (today - timedelta(days=d)).weekday() == 0 else 0)
        for d in range(1, 29)
    }
    for d, n in (extra or {}).items():
        by_date[today - timedelta(days=d)] = n
    return History(
        day_people=(normal,) * 20, day_fresh=tuple(by_date.values()), fresh_by_date=by_date
    )


WEEK_CASES = [
    # (history, fresh today, trips) — usual week 20, normal day 80: limit 2 × 20 + 40 = 80
    (_weekly(20), 20, False),
    (_weekly(20), 80, False),
    (_weekly(20), 81, True),
    (_weekly(20, {1: 60, 2: 0}), 21, True),  # 60 yesterday + 21 today
    (_weekly(20, {1: 60}), 20, False),
    (_weekly(2, {}, normal=4), 19, False),  # a small provider: slack floor 15, limit 19
    (_weekly(2, {}, normal=4), 20, True),
    (_weekly(20, {1: 80, 2: 80, 3: 80}), 1, True),  # a drip that began three days ago
    (History(day_people=(80,) * 3, fresh_by_date={date(2026, 3, 1): 5}), 500, False),  # new
]


@pytest.mark.parametrize(("history", "fresh", "trips"), WEEK_CASES)
def test_fresh_week(history: History, fresh: int, trips: bool) -> None:
    found = VolumeDetector().examine(snap(day={"people": fresh, "fresh": fresh}, history=history))
    assert ("fresh-week" in {f.rule for f in found}) is trips


def test_fresh_week_waits_for_two_weeks_of_history() -> None:
    today = date(2026, 3, 2)
    # A provider that started 8 days ago with 3 cohorts at once, then a new one today.
    young = History(
        day_people=(60,) * 6,
        fresh_by_date={today - timedelta(days=8): 60, today - timedelta(days=7): 0}
        | {today - timedelta(days=d): 0 for d in range(1, 7)},
    )
    assert normal_week_fresh(young, today=today) is None
    found = VolumeDetector().examine(snap(day={"people": 111, "fresh": 111}, history=young))
    assert "fresh-week" not in {f.rule for f in found}
