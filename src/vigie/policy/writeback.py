"""Write-back: the few facts a processor may record about a person, typed and bounded.

A contract lists the fields its processor may write (``write_fields``); each is one of
:data:`WRITE_FIELDS`. :func:`validate_write` checks a request body against a
:class:`~vigie.policy.view.ContractView` and returns the clean values, or raises:

- :class:`vigie.errors.InvalidInput` for an empty body, an unknown field or a bad value;
- :class:`vigie.errors.Denied` for a known field the contract does not allow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from vigie.errors import Denied, InvalidInput
from vigie.policy.view import ContractView

CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
MAX_ATTENDANCE_HOURS = 600  # the longest CIR language course


def _hours(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number of hours")
    if not 0 <= value <= MAX_ATTENDANCE_HOURS:
        raise ValueError(f"must be between 0 and {MAX_ATTENDANCE_HOURS}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _level(value: Any) -> str:
    if value not in CEFR_LEVELS:
        raise ValueError(f"must be one of {', '.join(CEFR_LEVELS)}")
    return str(value)


def _day(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None


@dataclass(frozen=True)
class WriteField:
    """A field a processor may write back: its meaning and its parser."""

    description: str
    parse: Callable[[Any], Any]


WRITE_FIELDS: Mapping[str, WriteField] = {
    "attendance_hours": WriteField(
        f"hours of course attended (whole number, 0–{MAX_ATTENDANCE_HOURS})", _hours
    ),
    "attended_on": WriteField("the day of the session attended (YYYY-MM-DD)", _day),
    "course_completed": WriteField("whether the person completed the course (true/false)", _flag),
    "session_booked": WriteField("the day of the next session booked (YYYY-MM-DD)", _day),
    "course_level_reached": WriteField(f"CEFR level reached ({', '.join(CEFR_LEVELS)})", _level),
}
"""Every field a contract may list in ``write_fields``."""


def validate_write(view: ContractView, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The clean values of ``payload`` if ``view`` allows writing every one of them."""
    if not isinstance(payload, Mapping) or not payload:
        raise InvalidInput("nothing to write: give at least one field")
    clean: dict[str, Any] = {}
    for name, value in payload.items():
        spec = WRITE_FIELDS.get(name) if isinstance(name, str) else None
        if spec is None:
            raise InvalidInput(f"unknown field {str(name)[:40]!r}")
        if name not in view.write_fields:
            raise Denied(f"the contract does not allow writing {name!r}")
        try:
            clean[name] = spec.parse(value)
        except ValueError as exc:
            raise InvalidInput(f"{name}: {exc}") from None
    return clean
