"""Canary-pattern detector: canaries disclosed far beyond the normal day."""

from __future__ import annotations

import pytest

from vigie.detection.canary import CanaryDetector
from vigie.detection.findings import History, Severity

from .helpers import snap, steady

CASES = [
    # (history, canaries today, trips)
    (steady(400, canaries=4), 18, False),  # 2 × 4 + 10
    (steady(400, canaries=4), 19, True),
    (steady(400, canaries=0), 10, False),
    (steady(400, canaries=0), 11, True),
    (History(expected_per_day=1000), 30, False),  # new: 1% of 1000 = 10 → limit 30
    (History(expected_per_day=1000), 31, True),
    (None, 500, False),
]


@pytest.mark.parametrize(("history", "canaries", "trips"), CASES)
def test_canary_pattern(history: History | None, canaries: int, trips: bool) -> None:
    found = CanaryDetector().examine(snap(day={"canaries": canaries}, history=history))
    assert bool(found) is trips
    assert all(f.severity is Severity.HIGH for f in found)
