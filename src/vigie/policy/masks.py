"""Masks: how a contract shows a field when its purpose needs less than the value.

A mask is a pure function from the full value to what the processor sees; ``None`` stays
``None``. Each mask applies only to the fields listed in :data:`MASK_FIELDS` (``year`` on
a date, ``domain`` on an e-mail…), and a contract that names a mask for any other field
is refused when it is applied.

==============  ======================================  ==========================
mask            shows                                   example
==============  ======================================  ==========================
``year``        the year of a date                      ``1987-03-14`` → ``1987``
``month``       the year and month of a date            ``1987-03-14`` → ``"1987-03"``
``initials``    the first letter of each name part      ``"Jean-Luc"`` → ``"J.-L."``
``last4``       the last four characters                ``"+33612345678"`` → ``"5678"``
``department``  the department code of a postal code    ``"75011"`` → ``"75"``
``domain``      the domain of an e-mail address         ``"a@b.example"`` → ``"b.example"``
==============  ======================================  ==========================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

Mask = Callable[[Any], Any]

DATE_FIELDS = frozenset({"birth_date", "entry_date", "cir_signed_on"})
NAME_FIELDS = frozenset({"given_name", "family_name", "given_name_native", "family_name_native"})


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def year(value: Any) -> int | None:
    """The year of a date (an integer)."""
    if value is None:
        return None
    return _as_date(value).year


def month(value: Any) -> str | None:
    """The year and month of a date, ``YYYY-MM``."""
    if value is None:
        return None
    d = _as_date(value)
    return f"{d.year:04d}-{d.month:02d}"


def initials(value: Any) -> str | None:
    """The first letter of each part of a name, upper-cased, each followed by a dot.

    Parts are separated by spaces or hyphens; hyphens are kept (``Jean-Luc`` → ``J.-L.``),
    spaces are dropped (``Marie Claire`` → ``M.C.``).
    """
    if value is None:
        return None
    words = []
    for word in str(value).split():
        parts = [p[0].upper() + "." for p in word.split("-") if p]
        if parts:
            words.append("-".join(parts))
    return "".join(words)


def last4(value: Any) -> str | None:
    """The last four characters of the value (all of it if it is shorter)."""
    if value is None:
        return None
    return str(value)[-4:]


def department(value: Any) -> str | None:
    """The French department code of a postal code.

    The first two digits; the first three for overseas departments (``971``–``976``,
    postal codes starting with ``97`` or ``98``), whose codes have three digits.
    """
    if value is None:
        return None
    text = str(value)
    return text[:3] if text[:2] in ("97", "98") else text[:2]


def domain(value: Any) -> str | None:
    """The domain part of an e-mail address, lower-cased; ``None`` if there is none."""
    if value is None:
        return None
    _, at, host = str(value).rpartition("@")
    return host.lower() if at and host else None


MASKS: Mapping[str, Mask] = {
    "year": year,
    "month": month,
    "initials": initials,
    "last4": last4,
    "department": department,
    "domain": domain,
}
"""Every mask, by the name a contract uses."""

MASK_FIELDS: Mapping[str, frozenset[str]] = {
    "year": DATE_FIELDS,
    "month": DATE_FIELDS,
    "initials": NAME_FIELDS,
    "last4": frozenset({"phone", "ref"}),
    "department": frozenset({"postal_code"}),
    "domain": frozenset({"email"}),
}
"""The fields each mask may be applied to."""

# How much each mask reveals of a field, when two contracts mask the same field in
# different ways: the union of the contracts shows the more revealing one. No mask
# (the full value) reveals most.
REVEAL_RANK: Mapping[str | None, int] = {
    "year": 1,
    "month": 2,
    "initials": 1,
    "last4": 1,
    "department": 1,
    "domain": 1,
    None: 100,
}


def check_mask(field: str, mask: str) -> None:
    """Raise ``ValueError`` with a readable reason if ``mask`` cannot apply to ``field``."""
    if mask not in MASKS:
        known = ", ".join(sorted(MASKS))
        raise ValueError(f"unknown mask {mask!r} (known: {known})")
    if field not in MASK_FIELDS[mask]:
        allowed = ", ".join(sorted(MASK_FIELDS[mask]))
        raise ValueError(f"mask {mask!r} does not apply to {field!r} (only to: {allowed})")
