"""Vectorised generator of synthetic CIR signatories (numpy, no per-row faker).

:func:`generate` returns a :class:`PeopleBatch`: one numpy column per registry field,
plus the superseded versions of the people who moved, changed phone or e-mail (so a
leaked value can later be dated). A batch is a pure function of ``(seed, start, n)``
and of the ids and regions it is asked for; :mod:`vigie.synth.load` draws a population
as a sequence of batches, so a population is deterministic for a seed.

Uniqueness by construction: ``ref`` is the subject id with a check digit, phone numbers
and the number inside e-mail addresses are affine bijections of the subject id, so no two
people (or two versions of different people) share one — a canary's contact never
collides with a real person's.
The population is dated as it stood at :data:`REFERENCE_DAY`, just before the leak of
January 2026.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from unidecode import unidecode

from vigie.synth.addresses import REGION_CODES, addresses
from vigie.synth.contacts import (
    EMAIL_DOMAINS,
    EMAIL_WEIGHTS,
    MAIL_SPACE,
    affine,
    emails,
    phone_numbers,
    refs_of,
)
from vigie.synth.geography import REGION_SHARES
from vigie.synth.names import POOLS, Name
from vigie.synth.origins import (
    CIR_DELAY_MONTHS,
    ORIGINS,
    RESIDENCE_REASONS,
    RESIDENCE_STATUSES,
    STATUS_BY_REASON,
)

REFERENCE_DAY = date(2025, 12, 31)
ENTRY_UNTIL = date(2025, 10, 31)
EPOCH = date(1970, 1, 1)
DATE_FIELDS = frozenset({"birth_date", "entry_date", "cir_signed_on"})
NO_EMAIL, NO_PHONE = 0.07, 0.03  # shares of people without one
ONE_PRIOR, TWO_PRIORS = 0.18, 0.04  # shares of people with superseded versions
REASON_INDEX = {k: i for i, k in enumerate(RESIDENCE_REASONS)}
STATUS_INDEX = {k: i for i, k in enumerate(RESIDENCE_STATUSES)}
I64 = NDArray[np.int64]
Obj = NDArray[np.object_]


def _day(d: date) -> int:
    return (d - EPOCH).days


def day_to_date(day: int) -> date:
    """A day number (days since 1970-01-01) as a date."""
    return EPOCH + timedelta(days=int(day))


@dataclass
class Versions:
    """Superseded versions: one row per (subject, version), values and validity."""

    subject_ids: I64
    version: I64
    columns: dict[str, NDArray[Any]]
    valid_from: I64  # seconds since the epoch, UTC
    valid_to: I64


@dataclass
class PeopleBatch:
    """A columnar batch of people: ``columns[field][i]`` is person ``ids[i]``'s value.

    Dates are day numbers (see :func:`day_to_date`); ``valid_from`` is in epoch seconds.
    """

    ids: I64
    columns: dict[str, NDArray[Any]]
    version: I64
    valid_from: I64
    previous: Versions

    def __len__(self) -> int:
        return len(self.ids)

    def record(self, i: int) -> dict[str, Any]:
        """Person ``i`` of the batch as plain Python values (for tests and docs)."""
        out: dict[str, Any] = {}
        for name, col in self.columns.items():
            value = col[i]
            if name in DATE_FIELDS:
                out[name] = day_to_date(value)
            elif isinstance(value, np.integer):
                out[name] = int(value)
            else:
                out[name] = value
        return out


@dataclass(frozen=True)
class _Spellings:
    native: Obj
    latin: Obj
    ascii: Obj
    weight: NDArray[np.float64]


@cache
def _spellings(names: tuple[Name, ...], feminine: bool = False) -> _Spellings:
    native, latin, weight = [], [], []
    for rank, name in enumerate(names):
        w = 1.0 / (rank + 1) ** 0.8  # common names first
        vw = np.array([0.6**j for j in range(len(name.latin))])
        vw /= vw.sum()
        for spelling, share in zip(name.latin, vw, strict=True):
            nat = name.native
            if feminine:
                nat, spelling = (nat + "а" if nat else None), spelling + "a"
            native.append(nat)
            latin.append(spelling)
            weight.append(w * share)
    p = np.array(weight)
    asc = [unidecode(s).lower().replace(" ", "").replace("'", "") for s in latin]
    return _Spellings(np.array(native, object), np.array(latin, object),
                      np.array(asc, object), p / p.sum())  # fmt: skip


def _pick_index(
    rng: np.random.Generator, options: dict[str, float], n: int, index: dict[str, int]
) -> I64:
    keys = np.array([index[k] for k in options], dtype=np.int64)
    p = np.array(list(options.values()))
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _pick(rng: np.random.Generator, options: dict[str, float], n: int) -> Obj:
    keys = np.array(list(options), dtype=object)
    p = np.array(list(options.values()))
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def generate(
    n: int,
    *,
    seed: int,
    start: int = 0,
    ids: I64 | None = None,
    regions: Obj | None = None,
) -> PeopleBatch:
    """``n`` synthetic people, deterministic for ``(seed, start, n)``, ids and regions.

    ``ids`` defaults to ``start + 1 .. start + n``; ``regions`` forces each person's
    INSEE region (canaries are planted region by region this way).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, start, n]))
    ids = np.arange(start + 1, start + n + 1, dtype=np.int64) if ids is None else ids
    nats = list(ORIGINS)
    nat_i = rng.choice(len(nats), size=n, p=[ORIGINS[k].share for k in nats])
    c: dict[str, NDArray[Any]] = {"ref": np.array(refs_of(ids), object)}
    for name in ("given_name", "family_name", "given_name_native", "family_name_native",
                 "sex", "birth_country", "preferred_language", "residence_reason"):  # fmt: skip
        c[name] = np.empty(n, object)
    given_ascii, family_ascii = np.empty(n, object), np.empty(n, object)
    entry = np.empty(n, np.int64)
    reason_i = np.empty(n, np.int64)
    for o, (code, origin) in enumerate(ORIGINS.items()):
        m = np.flatnonzero(nat_i == o)
        k = len(m)
        if not k:
            continue
        female = rng.random(k) < origin.female
        c["sex"][m] = np.where(female, "F", "M")
        pools = POOLS[code]
        for sex_mask, given_pool, fem in (
            (female, pools.female, True),
            (~female, pools.male, False),
        ):
            idx = m[sex_mask]
            g = _spellings(given_pool)
            f = _spellings(pools.family, feminine=fem and pools.gendered_family)
            gi = rng.choice(len(g.weight), size=len(idx), p=g.weight)
            fi = rng.choice(len(f.weight), size=len(idx), p=f.weight)
            c["given_name"][idx], c["given_name_native"][idx] = g.latin[gi], g.native[gi]
            c["family_name"][idx], c["family_name_native"][idx] = f.latin[fi], f.native[fi]
            given_ascii[idx], family_ascii[idx] = g.ascii[gi], f.ascii[fi]
        c["preferred_language"][m] = _pick(rng, origin.languages, k)
        reason_i[m] = _pick_index(rng, origin.reasons, k, REASON_INDEX)
        abroad = dict(origin.born_abroad)
        abroad[code] = 1.0 - sum(abroad.values())
        c["birth_country"][m] = _pick(rng, abroad, k)
        lo, hi = _day(origin.entry_from), _day(ENTRY_UNTIL)
        entry[m] = lo + ((hi - lo) * rng.random(k) ** 0.8).astype(np.int64)
    c["nationality"] = np.array(nats, object)[nat_i]
    c["residence_reason"] = np.array(RESIDENCE_REASONS, object)[reason_i]
    status_i = np.empty(n, np.int64)
    delay = np.empty(n, np.int64)
    for r, (why, statuses) in enumerate(STATUS_BY_REASON.items()):
        m = np.flatnonzero(reason_i == r)
        status_i[m] = _pick_index(rng, statuses, len(m), STATUS_INDEX)
        lo_m, hi_m = CIR_DELAY_MONTHS[why]
        delay[m] = (rng.uniform(lo_m, hi_m, len(m)) * 30.44).astype(np.int64)
    cir = entry + delay
    late = np.maximum(cir - _day(REFERENCE_DAY) + rng.integers(0, 60, n), 0)
    late = np.where(cir > _day(REFERENCE_DAY), late, 0)
    entry, cir = entry - late, cir - late
    age = np.clip(18 + rng.gamma(2.5, 6.0, n), 18, 70)
    c["birth_date"] = entry - (age * 365.25).astype(np.int64)
    c["entry_date"], c["cir_signed_on"] = entry, cir

    french = c["preferred_language"] == "fr"  # one pass over an object column
    hours = np.where(french, rng.choice([100, 200], n, p=[0.85, 0.15]),
                     rng.choice([100, 200, 400, 600], n, p=[0.15, 0.3, 0.35, 0.2]))  # fmt: skip
    c["course_hours"] = hours.astype(np.int64)
    level = np.where((cir >= _day(date(2024, 1, 1))) & (rng.random(n) < 0.5), "A2", "A1")
    c["residence_status"] = np.array(RESIDENCE_STATUSES, object)[status_i]
    resident = status_i == STATUS_INDEX["resident_card"]
    level = np.where(resident & (rng.random(n) < 0.5), "B1", level)
    c["course_level"] = level.astype(object)

    if regions is None:
        region_i = rng.choice(len(REGION_CODES), size=n, p=list(REGION_SHARES.values()))
    else:
        lookup = {code: i for i, code in enumerate(REGION_CODES)}
        region_i = np.array([lookup[r] for r in regions.tolist()], np.int64)
    c["region"] = np.array(REGION_CODES, object)[region_i]
    c["address_line"], c["postal_code"], c["city"] = addresses(rng, region_i)

    phones = np.array(phone_numbers(ids), object)
    phones[rng.random(n) < NO_PHONE] = None
    c["phone"] = phones
    pattern = rng.integers(0, 5, n)
    domain = rng.choice(len(EMAIL_DOMAINS), size=n, p=EMAIL_WEIGHTS)
    number = affine(ids, 7_654_321, 1_234_567, MAIL_SPACE)
    mail = np.array(emails(given_ascii, family_ascii, pattern, number, domain), object)
    mail[rng.random(n) < NO_EMAIL] = None
    c["email"] = mail

    columns = {name: c[name] for name in _FIELD_ORDER}
    prior = np.where(rng.random(n) < TWO_PRIORS, 2, np.where(rng.random(n) < ONE_PRIOR, 1, 0))
    keys = _Keys(given_ascii, family_ascii, pattern, domain, number, region_i)
    return _with_history(rng, ids, columns, prior, keys)


_FIELD_ORDER = (
    "ref", "given_name", "family_name", "given_name_native", "family_name_native",
    "birth_date", "sex", "birth_country", "nationality", "preferred_language", "email",
    "phone", "address_line", "postal_code", "city", "region", "entry_date",
    "residence_reason", "residence_status", "cir_signed_on", "course_hours", "course_level",
)  # fmt: skip


@dataclass(frozen=True)
class _Keys:
    """What the history needs to redraw an older address or e-mail of the same person."""

    given_ascii: Obj
    family_ascii: Obj
    pattern: I64
    domain: I64
    number: I64
    region_i: I64


def _with_history(
    rng: np.random.Generator, ids: I64, columns: dict[str, NDArray[Any]], prior: I64, keys: _Keys
) -> PeopleBatch:
    """Give ``prior[i]`` superseded versions to person ``i``, each one change back in time."""
    n = len(ids)
    day_s = 86_400
    cir = columns["cir_signed_on"]
    created = cir * day_s + rng.integers(8 * 3600, 18 * 3600, n)  # registered at signature
    span = np.maximum(_day(REFERENCE_DAY) * day_s - created, day_s)
    changes = np.sort(created[:, None] + (rng.random((n, 2)) * span[:, None]).astype(np.int64), 1)
    valid_from = np.where(prior == 0, created, np.where(prior == 1, changes[:, 0], changes[:, 1]))
    sub_ids, vers, vfrom, vto, rows = [], [], [], [], []
    newer: dict[str, NDArray[Any]] = columns  # values of the version after the one drawn
    newer_rows = np.arange(n)
    # Walk back: the newest superseded version first, then the one before it.
    for step in (1, 2):
        m = np.flatnonzero(prior >= step)
        if not len(m):
            continue
        pos = np.searchsorted(newer_rows, m)
        what = rng.choice(3, size=len(m), p=[0.6, 0.25, 0.15])  # address, phone, e-mail
        older = {k: v[pos] for k, v in newer.items()}  # fancy indexing copies
        moved = what == 0
        line, postal, city = addresses(rng, keys.region_i[m][moved])
        older["address_line"][moved], older["postal_code"][moved], older["city"][moved] = (
            line, postal, city)  # fmt: skip
        ph = what == 1
        older["phone"][ph] = phone_numbers(ids[m][ph] + 50_000_000 * step)
        em = what == 2
        sel = m[em]
        older["email"][em] = emails(
            keys.given_ascii[sel],
            keys.family_ascii[sel],
            keys.pattern[sel],
            keys.number[sel],
            (keys.domain[sel] + step) % len(EMAIL_DOMAINS),
        )
        # Version numbers: a person with p priors has current version p + 1.
        version = prior[m] + 1 - step
        start = np.where(version == 1, created[m], changes[m, 0])
        end = valid_from[m] if step == 1 else changes[m, 0]
        sub_ids.append(ids[m])
        vers.append(version)
        vfrom.append(start)
        vto.append(end)
        rows.append(older)
        newer, newer_rows = older, m
    prev_cols = {k: np.concatenate([r[k] for r in rows]) if rows else columns[k][:0]
                 for k in columns}  # fmt: skip
    empty = np.zeros(0, np.int64)
    previous = Versions(
        subject_ids=np.concatenate(sub_ids) if sub_ids else empty,
        version=np.concatenate(vers) if vers else empty,
        columns=prev_cols,
        valid_from=np.concatenate(vfrom) if vfrom else empty,
        valid_to=np.concatenate(vto) if vto else empty,
    )
    return PeopleBatch(ids=ids, columns=columns, version=prior + 1, valid_from=valid_from,
                       previous=previous)  # fmt: skip


def epoch_seconds_to_datetime(seconds: int) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(int(seconds), UTC)
