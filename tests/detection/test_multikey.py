"""Multi-key detector: several keys of one processor at work together."""

from __future__ import annotations

import pytest

from vigie.detection.findings import Severity
from vigie.detection.multikey import MultiKeyDetector

from .helpers import snap


@pytest.mark.parametrize(("keys", "trips"), [(1, False), (2, False), (3, True), (7, True)])
def test_multikey(keys: int, trips: bool) -> None:
    found = MultiKeyDetector().examine(snap(active_keys=keys))
    assert bool(found) is trips
    assert all(f.severity is Severity.MEDIUM for f in found)
