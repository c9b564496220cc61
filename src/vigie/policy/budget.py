"""Budget and rate decisions: given what is spent, allow (silence) or raise with a wait.

Budgets count *distinct people* disclosed to a processor: per UTC calendar day and over
the 30 UTC days ending today. The gateway's ledger counts; these functions only decide.
Both raise :class:`vigie.errors.BudgetExceeded` carrying ``retry_after`` (seconds), which
the API sends as ``Retry-After``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from vigie.errors import BudgetExceeded
from vigie.policy.view import Budget


def seconds_to_next_day(now: datetime) -> int:
    """Whole seconds (at least 1) until the next UTC midnight, when a day's count resets."""
    now = now.astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, math.ceil((midnight - now).total_seconds()))


def check_budget(
    *,
    budget: Budget,
    used_today: int,
    used_30_days: int,
    new_people: int,
    now: datetime,
    window_retry_after: int | None = None,
) -> None:
    """Allow disclosing ``new_people`` people not yet disclosed in the windows, or raise.

    ``used_today`` and ``used_30_days`` are the distinct people already disclosed in each
    window; people disclosed before in a window do not count again and must not be in
    ``new_people``. The daily limit resets at the next UTC midnight; the 30-day limit at
    the earliest then too (the oldest day leaves the window), or after
    ``window_retry_after`` seconds when the ledger knows better.
    """
    if new_people < 0 or used_today < 0 or used_30_days < 0:
        raise ValueError("counts cannot be negative")
    if new_people == 0:
        return
    wait = seconds_to_next_day(now)
    if used_today + new_people > budget.per_day:
        left = max(0, budget.per_day - used_today)
        raise BudgetExceeded(
            f"daily budget of {budget.per_day} distinct people reached ({left} left today)",
            retry_after=wait,
        )
    if used_30_days + new_people > budget.per_30_days:
        left = max(0, budget.per_30_days - used_30_days)
        raise BudgetExceeded(
            f"30-day budget of {budget.per_30_days} distinct people reached ({left} left)",
            retry_after=max(wait, window_retry_after or 0),
        )


def check_rate(*, budget: Budget, requests_this_minute: int, now: datetime) -> None:
    """Allow one more request in the current UTC minute, or raise.

    ``requests_this_minute`` counts the requests already served in the minute of ``now``.
    """
    if requests_this_minute < 0:
        raise ValueError("counts cannot be negative")
    if requests_this_minute + 1 > budget.rate_per_minute:
        now = now.astimezone(UTC)
        wait = 60 - now.second - (1 if now.microsecond else 0)
        raise BudgetExceeded(
            f"rate limit of {budget.rate_per_minute} requests per minute reached",
            retry_after=max(1, wait),
        )
