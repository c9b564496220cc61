"""A processor's normal day, from its own history or, when new, from its contract.

The baseline is the busiest day of the last ``BASELINE_DAYS`` days (what the provider's
normal day reads, upper end). A processor with fewer than ``MIN_HISTORY_DAYS`` active
days has no trustworthy history yet: its contracts' declared ``expected_per_day`` is used
instead (or ``DEFAULT_EXPECTED_PER_DAY`` when none is declared).

For slow extraction (a few hundred people a day, at the provider's own pace) the
weekly count of people never read before is compared with its *median* over the
baseline period, which a few days of dripping cannot move.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from statistics import median

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


WEEK = 7
MIN_WEEK_HISTORY_DAYS = 14


def week_fresh(history: History, *, today: date, today_fresh: int) -> int:
    """People never read before, over the last 7 days including today."""
    past = sum(history.fresh_by_date.get(today - timedelta(days=d), 0) for d in range(1, WEEK))
    return past + today_fresh


def normal_week_fresh(history: History, *, today: date) -> int | None:
    """The median, over the baseline period, of the 7-day sums of people never read before.

    A median, not a maximum: an attacker who drips for a few days cannot raise it. Only
    7-day windows within the processor's own history count (not the days before its
    first request), and it needs ``MIN_WEEK_HISTORY_DAYS`` (14) days since then — the
    first days, when every cohort is new, must not be the norm. None until then.
    """
    if history.active_days < MIN_HISTORY_DAYS or not history.fresh_by_date:
        return None
    first = max(today - timedelta(days=BASELINE_DAYS), min(history.fresh_by_date))
    if (today - first).days < MIN_WEEK_HISTORY_DAYS:
        return None
    ends = [first + timedelta(days=i) for i in range(WEEK - 1, (today - first).days)]
    sums = [
        sum(history.fresh_by_date.get(end - timedelta(days=d), 0) for d in range(WEEK))
        for end in ends
    ]
    return int(median(sums)) if sums else None
