"""New-origin detector and the network blocks it compares."""

from __future__ import annotations

from datetime import timedelta

import pytest

from vigie.detection.findings import Severity
from vigie.detection.origin import NewOriginDetector, network_of

from .helpers import AT, snap


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.10", "192.0.2.0/24"),
        ("192.0.2.250", "192.0.2.0/24"),
        ("198.51.100.7", "198.51.100.0/24"),
        ("2001:db8:1:2::5", "2001:db8:1::/48"),
        ("not-an-ip", None),
        ("", None),
        (None, None),
    ],
)
def test_network_of(address: str | None, network: str | None) -> None:
    assert network_of(address) == network


CASES = [
    # (new network, known for, trips)
    ("198.51.100.0/24", timedelta(days=10), True),
    ("198.51.100.0/24", timedelta(days=3), True),
    ("198.51.100.0/24", timedelta(days=2, hours=23), False),  # still learning
    (None, timedelta(days=10), False),  # a known network
    ("198.51.100.0/24", None, False),  # first request ever
]


@pytest.mark.parametrize(("network", "known_for", "trips"), CASES)
def test_new_origin(network: str | None, known_for: timedelta | None, trips: bool) -> None:
    known_since = AT - known_for if known_for is not None else None
    found = NewOriginDetector().examine(snap(new_origin=network, known_since=known_since))
    assert bool(found) is trips
    if found:
        assert found[0].severity is Severity.LOW
        assert found[0].about == network
