"""Rare-hour detector: work at an hour of day the processor (almost) never works."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vigie.detection.findings import History
from vigie.detection.timing import RareHourDetector

from .helpers import snap, steady

NIGHT = datetime(2026, 3, 2, 3, 12, tzinfo=UTC)
DAYTIME = datetime(2026, 3, 2, 10, 12, tzinfo=UTC)
SPARSE = History(day_people=(5,) * 10, hour_of_day_requests=(10,) * 24)  # 240 requests

CASES = [
    # (history, at, requests this hour, trips)
    (steady(100), NIGHT, 10, True),
    (steady(100), NIGHT, 9, False),  # a handful of requests: not yet
    (steady(100), DAYTIME, 500, False),  # the usual hours
    (SPARSE, NIGHT, 50, False),  # too little history to say what is rare
    (None, NIGHT, 50, False),
    (
        History(day_people=(5,) * 10, hour_of_day_requests=(4,) + (100,) * 23),
        datetime(2026, 3, 2, 0, 5, tzinfo=UTC),
        20,
        True,
    ),  # 4 of 2304 = 0.17%
    (
        History(day_people=(5,) * 10, hour_of_day_requests=(12,) + (100,) * 23),
        datetime(2026, 3, 2, 0, 5, tzinfo=UTC),
        20,
        False,
    ),  # 12 of 2312 = 0.52%
]


@pytest.mark.parametrize(("history", "at", "requests", "trips"), CASES)
def test_rare_hour(history: History | None, at: datetime, requests: int, trips: bool) -> None:
    found = RareHourDetector().examine(snap(hour={"requests": requests}, history=history, at=at))
    assert bool(found) is trips
