"""Synthetic French addresses: a town of the region weighted by size, one of its postal
codes, a common street name and number (sometimes ``bis`` or a flat number).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

from vigie.synth.geography import CITIES, REGION_SHARES, STREETS

REGION_CODES = tuple(REGION_SHARES)
I64 = NDArray[np.int64]
Obj = NDArray[np.object_]


@dataclass(frozen=True)
class _RegionTable:
    names: Obj  # city name per city
    weight: NDArray[np.float64]
    first_code: I64  # offset of the city's first postal code in ``codes``
    code_count: I64
    codes: Obj


@cache
def _region_table(code: str) -> _RegionTable:
    cities = CITIES[code]
    w = np.array([ct.weight for ct in cities])
    counts = np.array([len(ct.postal_codes) for ct in cities], np.int64)
    return _RegionTable(
        names=np.array([ct.name for ct in cities], object),
        weight=w / w.sum(),
        first_code=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
        code_count=counts,
        codes=np.array([pc for ct in cities for pc in ct.postal_codes], object),
    )


@cache
def _street_lines() -> Obj:
    """Every ``number street`` line (numbers 1..220), then the same with ``bis``."""
    plain = [f"{num} {st}" for num in range(1, 221) for st in STREETS]
    bis = [f"{num} bis {st}" for num in range(1, 221) for st in STREETS]
    return np.array(plain + bis, object)


def addresses(rng: np.random.Generator, region_i: I64) -> tuple[Obj, Obj, Obj]:
    n = len(region_i)
    city, postal = np.empty(n, object), np.empty(n, object)
    for r, code in enumerate(REGION_CODES):
        m = np.flatnonzero(region_i == r)
        if not len(m):
            continue
        t = _region_table(code)
        ci = rng.choice(len(t.names), size=len(m), p=t.weight)
        city[m] = t.names[ci]
        postal[m] = t.codes[
            t.first_code[ci] + (rng.random(len(m)) * t.code_count[ci]).astype(np.int64)
        ]
    street = rng.integers(0, len(STREETS), n)
    number = np.minimum(rng.geometric(0.04, n), 220) - 1
    extra = rng.random(n)
    bis = (extra >= 0.3) & (extra < 0.35)
    lines = _street_lines()[(number * len(STREETS) + street) + bis * 220 * len(STREETS)]
    flat = np.flatnonzero(extra < 0.3)
    flats = rng.integers(1, 60, len(flat)).tolist()
    lines[flat] = [f"{line}, apt {k}" for line, k in zip(lines[flat].tolist(), flats, strict=True)]
    return lines, postal, city
