"""Contact points and file numbers of synthetic people, unique by construction.

File numbers are the subject id with a Luhn check digit; phone numbers and the number in
e-mail addresses are affine bijections of a key derived from the subject id, so two
people never share one, and a superseded contact (drawn from another key) never equals
anyone's current one.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

I64 = NDArray[np.int64]
Obj = NDArray[np.object_]

EMAIL_DOMAINS = ("mail.example", "example.org", "webmail.example", "courriel.example",
                 "poste.example", "boite.example")  # fmt: skip
EMAIL_WEIGHTS = np.array([0.35, 0.2, 0.15, 0.12, 0.1, 0.08])

# Mobile prefixes of metropolitan France (+33 6.., 7..); 639 and 690-697 are overseas.
_MOBILE_PREFIXES = np.array(
    [p for p in range(600, 700) if p != 639 and not 690 <= p <= 697] + list(range(730, 800))
)
_PHONE_SPACE = len(_MOBILE_PREFIXES) * 1_000_000
MAIL_SPACE = 10_000_000


def affine(x: I64, a: int, b: int, m: int) -> I64:
    return (x * a + b) % m


def phone_numbers(keys: I64) -> list[str]:
    """Distinct French mobile numbers in E.164, one per distinct key below 1.62e8."""
    k = affine(keys, 48_271_031, 12_345_677, _PHONE_SPACE)
    national = _MOBILE_PREFIXES[k // 1_000_000] * 1_000_000 + k % 1_000_000  # 9 digits
    return list(map("+33%d".__mod__, national.tolist()))


def refs_of(ids: I64) -> list[str]:
    """The controller's file number of each subject id: ``CIR`` + 8 digits + a Luhn digit.

    Sequential, like a real register's file numbers (which also keeps the unique index
    append-only while loading); the check digit catches a mistyped number.
    """
    digits = [(ids // 10**k) % 10 for k in range(8)]  # units first
    total = np.zeros_like(ids)
    for k, d in enumerate(digits):
        if k % 2 == 0:  # doubled positions, counted from the check digit's left
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total = total + d
    check = (10 - total % 10) % 10
    return list(map("CIR%09d".__mod__, (ids * 10 + check).tolist()))


def emails(gv: Obj, fv: Obj, pattern: I64, number: I64, domain: I64) -> list[str]:
    out = []
    for g, f, p, num, d in zip(gv.tolist(), fv.tolist(), pattern.tolist(), number.tolist(),
                               domain.tolist(), strict=True):  # fmt: skip
        if p == 0:
            stem = f"{g}.{f}"
        elif p == 1:
            stem = f"{f}.{g}"
        elif p == 2:
            stem = f"{g[:1]}.{f}"
        elif p == 3:
            stem = f"{g}{f}"
        else:
            stem = f"{g}_{f}"
        out.append(f"{stem}{num}@{EMAIL_DOMAINS[d]}")
    return out
