"""Probing detector: failed look-ups and requests for ended assignments."""

from __future__ import annotations

import pytest

from vigie.detection.findings import Severity
from vigie.detection.probing import ProbeDetector

from .helpers import snap

CASES = [
    # (hour, day, expected {rule: severity})
    ({"not_found": 3}, {"not_found": 12}, {}),
    ({"not_found": 19}, {"not_found": 19}, {}),
    ({"not_found": 20}, {"not_found": 20}, {"guess-hour": Severity.MEDIUM}),
    ({"not_found": 5}, {"not_found": 99}, {}),
    ({"not_found": 5}, {"not_found": 100}, {"guess-day": Severity.HIGH}),
    ({"not_found": 40}, {"not_found": 150}, {"guess-day": Severity.HIGH}),  # day wins
    ({}, {"expired": 9}, {}),
    ({}, {"expired": 10}, {"expired-some": Severity.LOW}),
    ({}, {"expired": 50}, {"expired": Severity.MEDIUM}),
    (
        {"not_found": 20},
        {"not_found": 20, "expired": 60},
        {"guess-hour": Severity.MEDIUM, "expired": Severity.MEDIUM},
    ),
]


@pytest.mark.parametrize(("hour", "day", "expected"), CASES)
def test_probe_rules(
    hour: dict[str, int], day: dict[str, int], expected: dict[str, Severity]
) -> None:
    found = ProbeDetector().examine(snap(hour=hour, day=day))
    assert {f.rule: f.severity for f in found} == expected
