"""A processor's normal day, from its own history or, when new, from its contract.

The baseline is the busiest day of the last ``BASELINE_DAYS`` days (what the provider's
normal day reads, upper end). A processor with fewer than ``MIN_HISTORY_DAYS`` active
days has no trustworthy history yet: its contracts' declared ``expected_per_day`` is used
instead (or ``DEFAULT_EXPECTED_PER_DAY`` when none is declared).
"""

from __future__ import annotations

from collections.abc import Sequence

from vigie.detection.findings import History

BASELINE_DAYS = 28
MIN_HISTORY_DAYS = 5
DEFAULT_EXPECTED_PER_DAY = 100


def _declared(history: History) -> int:
    return history.expected_per_day or DEFAULT_EXPECTED_PER_DAY


def _own_or_declared(values: Sequence[int], history: History, declared: int) -> int:
    if history.active_days >= MIN_HISTORY_DAYS and values:
        return max(values)
    return declared


def normal_day_people(history: History) -> int:
    """Distinct people in the processor's normal (busy) day."""
    return _own_or_declared(history.day_people, history, _declared(history))


def normal_day_fresh(history: History) -> int:
    """People never read before, in a normal day (new processor: its whole declared day)."""
    return _own_or_declared(history.day_fresh, history, _declared(history))


def normal_day_canaries(history: History) -> int:
    """Distinct canaries in a normal day (new processor: 1% of its declared day)."""
    return _own_or_declared(history.day_canaries, history, max(1, _declared(history) // 100))
