"""Sweep detector: share of the scope read in an hour, and list walks through it."""

from __future__ import annotations

import pytest

from vigie.detection.findings import Severity
from vigie.detection.sweep import SweepDetector

from .helpers import snap

CASES = [
    # (scope, hour counts, day counts, expected rules)
    (10_000, {"people": 999}, {}, []),
    (10_000, {"people": 1000}, {}, ["share"]),
    (1000, {"people": 199}, {}, []),  # 20% of a small scope, but under 200 people
    (1000, {"people": 200}, {}, ["share"]),
    (10_000, {"people": 50}, {"listed": 2499}, []),
    (10_000, {"people": 50}, {"listed": 2500}, ["walk"]),
    (10_000, {"people": 1500}, {"listed": 3000}, ["share", "walk"]),
    (500, {"people": 150}, {"listed": 150}, []),  # 30%, but fewer than 200 people
    (0, {"people": 5000}, {"listed": 5000}, []),  # no scope known: nothing to compare to
]


@pytest.mark.parametrize(("scope", "hour", "day", "rules"), CASES)
def test_sweep_rules(
    scope: int, hour: dict[str, int], day: dict[str, int], rules: list[str]
) -> None:
    found = SweepDetector().examine(snap(hour=hour, day=day, scope_size=scope))
    assert sorted(f.rule for f in found) == sorted(rules)
    assert all(f.severity is Severity.HIGH for f in found)
