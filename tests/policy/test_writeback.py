"""Write-back accepts only the contract's write fields, typed and bounded."""

from __future__ import annotations

from typing import Any

import pytest

from vigie.errors import Denied, InvalidInput
from vigie.policy.view import Budget, ContractView
from vigie.policy.writeback import WRITE_FIELDS, validate_write

V = ContractView(
    contract_ids=(1,),
    read_fields=frozenset({"pseudonym"}),
    masks={},
    write_fields=frozenset({"attendance_hours", "course_completed", "attended_on"}),
    budget=Budget(per_day=1, per_30_days=1, rate_per_minute=1),
)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"attendance_hours": 3}, {"attendance_hours": 3}),
        ({"course_completed": True}, {"course_completed": True}),
        (
            {"attended_on": "2026-03-01", "attendance_hours": 0},
            {"attended_on": "2026-03-01", "attendance_hours": 0},
        ),
    ],
)
def test_accepted(payload: dict[str, Any], expected: dict[str, Any]) -> None:
    assert validate_write(V, payload) == expected


@pytest.mark.parametrize(
    ("payload", "error", "reason"),
    [
        ({}, InvalidInput, "nothing to write"),
        ({"salary": 1}, InvalidInput, "unknown field"),
        ({"course_level_reached": "B1"}, Denied, "does not allow"),
        ({"attendance_hours": True}, InvalidInput, "whole number"),
        ({"attendance_hours": "3"}, InvalidInput, "whole number"),
        ({"attendance_hours": 601}, InvalidInput, "between"),
        ({"attendance_hours": -1}, InvalidInput, "between"),
        ({"course_completed": "yes"}, InvalidInput, "true or false"),
        ({"attended_on": "2026-02-30"}, InvalidInput, "date"),
        ({"attended_on": "2026-03-01T00:00"}, InvalidInput, "date"),
        ({"attendance_hours'; DROP TABLE subjects;--": 1}, InvalidInput, "unknown field"),
    ],
)
def test_refused(payload: dict[str, Any], error: type[Exception], reason: str) -> None:
    with pytest.raises(error, match=reason):
        validate_write(V, payload)


def test_every_write_field_is_described() -> None:
    assert all(spec.description for spec in WRITE_FIELDS.values())
