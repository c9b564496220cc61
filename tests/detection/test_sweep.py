"""Sweep detector: share of the scope read in an hour, and list walks through it."""

from __future__ import annotations

import pytest

from vigie.detection.findings import History, Severity
from vigie.detection.sweep import SweepDetector

from .helpers import snap, steady

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


MOST = [
    # (scope, distinct people this hour, declared normal day, expected rules)
    (121, 121, None, ["most"]),  # a whole small scope in a moment
    (121, 121, 40, ["most"]),
    (121, 61, 40, ["most"]),  # just over half
    (121, 60, 40, []),  # just under half
    (30, 20, None, ["most"]),
    (30, 19, None, []),  # two thirds of a tiny scope, but under 20 people
    (10, 10, None, []),  # a whole tiny scope: under 20 people, noise
    (121, 121, 150, []),  # declared: the processor's normal day reads the whole scope
    (121, 121, 120, ["most"]),  # declared day smaller than what was read
    (300, 149, 40, []),  # under half, and under the share rule's 200
    (300, 150, 40, ["most"]),
    (1000, 500, 40, ["most", "share"]),
    (2_000_000, 150_000, 40, []),  # a big scope read in part, under every threshold
    (0, 121, None, []),  # no scope known
]


@pytest.mark.parametrize(("scope", "people", "declared", "rules"), MOST)
def test_most_of_the_scope_in_an_hour(
    scope: int, people: int, declared: int | None, rules: list[str]
) -> None:
    history = History(expected_per_day=declared)
    found = SweepDetector().examine(
        snap(hour={"people": people}, history=history, scope_size=scope)
    )
    assert sorted(f.rule for f in found) == sorted(rules)
    assert all(f.severity is Severity.HIGH for f in found)


def test_most_ignores_a_learnt_day_only_a_declared_one_counts() -> None:
    """History can be drifted by a patient thief; the contract's declaration cannot."""
    learnt = steady(130)  # reads 130 a day for 20 days, nothing declared
    found = SweepDetector().examine(snap(hour={"people": 121}, history=learnt, scope_size=121))
    assert [f.rule for f in found] == ["most"]
    assert found[0].figures["scope_size"] == 121
