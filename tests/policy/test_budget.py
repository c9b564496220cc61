"""Budget and rate decisions: silence when allowed, BudgetExceeded with a wait otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigie.errors import BudgetExceeded
from vigie.policy.budget import check_budget, check_rate, seconds_to_next_day
from vigie.policy.view import Budget

B = Budget(per_day=10, per_30_days=25, rate_per_minute=3)
NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("today", "month", "new", "allowed"),
    [
        (0, 0, 10, True),
        (0, 0, 11, False),
        (9, 9, 1, True),
        (10, 10, 1, False),
        (10, 10, 0, True),  # nothing new disclosed: always allowed
        (0, 20, 5, True),
        (0, 20, 6, False),
    ],
)
def test_budget_table(today: int, month: int, new: int, allowed: bool) -> None:
    if allowed:
        check_budget(budget=B, used_today=today, used_30_days=month, new_people=new, now=NOON)
    else:
        with pytest.raises(BudgetExceeded) as info:
            check_budget(budget=B, used_today=today, used_30_days=month, new_people=new, now=NOON)
        assert info.value.retry_after == 12 * 3600


def test_thirty_day_wait_can_come_from_the_ledger() -> None:
    with pytest.raises(BudgetExceeded, match="30-day") as info:
        check_budget(
            budget=B,
            used_today=0,
            used_30_days=25,
            new_people=1,
            now=NOON,
            window_retry_after=5 * 86400,
        )
    assert info.value.retry_after == 5 * 86400


def test_negative_counts_are_a_bug() -> None:
    with pytest.raises(ValueError):
        check_budget(budget=B, used_today=-1, used_30_days=0, new_people=1, now=NOON)


def test_rate() -> None:
    check_rate(budget=B, requests_this_minute=2, now=NOON)
    with pytest.raises(BudgetExceeded) as info:
        check_rate(budget=B, requests_this_minute=3, now=NOON.replace(second=45))
    assert info.value.retry_after == 15


@given(st.datetimes(timezones=st.just(UTC)))
def test_next_day_wait_is_within_a_day(now: datetime) -> None:
    assert 1 <= seconds_to_next_day(now) <= 86400


@given(
    st.integers(1, 50),
    st.integers(1, 100),
    st.integers(0, 60),
    st.integers(0, 120),
    st.integers(0, 60),
)
def test_never_allows_past_a_limit(
    per_day: int, per_30: int, today: int, month: int, new: int
) -> None:
    budget = Budget(per_day=per_day, per_30_days=max(per_day, per_30), rate_per_minute=1)
    try:
        check_budget(budget=budget, used_today=today, used_30_days=month, new_people=new, now=NOON)
    except BudgetExceeded as exc:
        assert exc.retry_after >= 1
    else:
        assert new == 0 or (today + new <= budget.per_day and month + new <= budget.per_30_days)
