"""Column typing: which kind each leaked column holds (see :mod:`vigie.leaks.kinds`).

The header proposes, the values dispose (placeholders such as "N/A" or "-" left aside):
a header kind is kept when the values do not
contradict it (at least half of a sample of distinct values fit the kind's format, for
kinds that have one); otherwise, or without a usable header, the kind whose format or
registry vocabulary fits most of the sample wins (80% for formats, 60% for vocabularies).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

import duckdb
import numpy as np

from vigie.leaks import kinds as K
from vigie.leaks.sources import Source

SAMPLE = 400
_FORMAT_OF = {
    "email": "email",
    "phone": "phone",
    "birth_date": K.DATE,
    "entry_date": K.DATE,
    "cir_signed_on": K.DATE,
    K.DATE: K.DATE,
    "postal_code": "postal_code",
    "sex": "sex",
    "nationality": "nationality",
    "birth_country": "nationality",
    K.PSEUDONYM: K.PSEUDONYM,
}
# Values as a processor receives them masked (birth year, department).
_MASKED = {
    "birth_date": re.compile(r"(19|20)\d\d"),
    "postal_code": re.compile(r"\d{1,2}|2[AB]|97[1-6]", re.IGNORECASE),
}
_VOCABULARIES = ("residence_reason", "residence_status", "preferred_language", "course_level")


@dataclass(frozen=True)
class Column:
    """One leaked column and what it holds."""

    source: int  # index of the source table
    index: int  # position in the source (``c<index>``)
    header: str  # as written in the file (hostile text)
    kind: str
    via: str  # "header", "values" or "header+values"
    share: float  # share of sampled values that fit the kind (1.0 when only the header spoke)
    filled: int  # non-empty values


class Vocabulary:
    """The registry's vocabularies, folded, for typing by values."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.values: dict[str, set[str]] = {}
        for field in _VOCABULARIES:
            rows = con.execute(
                f"SELECT DISTINCT {field} FROM reg WHERE {field} IS NOT NULL"
            ).fetchall()
            self.values[field] = {K.fold(r[0]) for r in rows if K.fold(r[0])}
        self.given = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT unnest(string_split(given_key, ' ')) FROM reg"
            ).fetchall()
        }
        self.family = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT unnest(string_split(family_key, ' ')) FROM reg"
            ).fetchall()
        }
        self.con = con

    def ref_share(self, values: list[str]) -> float:
        if not values:
            return 0.0
        refs = np.array([v.strip().upper() for v in values], dtype=object)
        self.con.register("_refs", {"v": refs})
        row = self.con.execute(
            "SELECT count(*) FROM _refs "
            "JOIN (SELECT DISTINCT ref_n FROM reg) r ON r.ref_n = _refs.v"
        ).fetchall()[0]
        self.con.unregister("_refs")
        return (int(row[0]) if row else 0) / len(values)


def _share(values: list[str], test: object) -> float:
    if not values:
        return 0.0
    assert callable(test)
    return sum(1 for v in values if test(v)) / len(values)


def _name_kind(values: list[str], vocab: Vocabulary) -> tuple[str, float] | None:
    names = [v for v in values if K.value_matches("name", v)]
    if len(names) < 0.8 * len(values) or not names:
        return None
    tokens = [K.name_tokens(v) for v in names]
    multi = sum(1 for t in tokens if len(t) >= 2) / len(tokens)
    given = sum(1 for t in tokens if t and all(x in vocab.given for x in t)) / len(tokens)
    family = sum(1 for t in tokens if t and all(x in vocab.family for x in t)) / len(tokens)
    either = sum(
        1 for t in tokens if t and all(x in vocab.given or x in vocab.family for x in t)
    ) / len(tokens)
    if multi >= 0.7 and either >= 0.6:
        return K.FULL_NAME, either
    if given >= 0.6 and given > family:
        return "given_name", given
    if family >= 0.6:
        return "family_name", family
    return None


def classify(header: str, values: list[str], vocab: Vocabulary) -> tuple[str, str, float]:
    """``(kind, via, share)`` for one column from its header and a sample of its values."""
    header_kind = K.kind_from_header(header) if not header.startswith("column ") else None
    if header_kind is not None:
        fmt = _FORMAT_OF.get(header_kind)
        if fmt is None or not values:
            return header_kind, "header", 1.0
        share = _share(values, lambda v: K.value_matches(fmt, v))
        if share >= 0.5:
            return header_kind, "header+values", share
        masked = _MASKED.get(header_kind)
        if masked is not None:
            share = _share(values, lambda v: bool(masked.fullmatch(v.strip())))
            if share >= 0.8:
                return header_kind, "header+masked values", share
    best, best_share = K.UNKNOWN, 0.0
    for kind in K.FORMAT_KINDS:
        share = _share(values, lambda v, kind=kind: K.value_matches(kind, v))
        if share >= 0.8 and share > best_share:
            best, best_share = kind, share
    if best == K.DATE:
        years = [d.year for v in values if (d := K.parse_date(v)) is not None]
        best = "birth_date" if years and statistics.median(years) < 2005 else K.DATE
    if best != K.UNKNOWN:
        return best, "values", best_share
    folded = [K.fold(v) for v in values]
    for field in _VOCABULARIES:
        share = _share(folded, lambda v, field=field: v in vocab.values[field])
        if share >= 0.6 and share > best_share:
            best, best_share = field, share
    if best != K.UNKNOWN:
        return best, "values", best_share
    share = vocab.ref_share(values)
    if share >= 0.6:
        return "ref", "values", share
    named = _name_kind(values, vocab)
    if named is not None:
        return named[0], "values", named[1]
    return K.UNKNOWN, "values", 0.0


def infer_columns(
    con: duckdb.DuckDBPyConnection, sources: list[Source], vocab: Vocabulary
) -> list[Column]:
    """The kind of every column of every source."""
    out: list[Column] = []
    for s_index, source in enumerate(sources):
        if not source.headers:
            continue
        # How many non-empty values each column holds, all columns in one scan.
        filled = con.execute(
            "SELECT "
            + ", ".join(
                f"count(*) FILTER (WHERE c{i} IS NOT NULL AND trim(c{i}) <> '')"
                for i in range(len(source.headers))
            )
            + f" FROM {source.table}"
        ).fetchall()[0]
        for i, header in enumerate(source.headers):
            col = f"c{i}"
            # Placeholders ("N/A", "-") say nothing of the kind: the header decides alone.
            values = [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT trim({col}) AS v FROM {source.table} "
                    f"WHERE {col} IS NOT NULL AND trim({col}) <> '' LIMIT {SAMPLE}"
                ).fetchall()
                if not K.is_placeholder(r[0])
            ]
            kind, via, share = classify(header, values, vocab)
            out.append(Column(s_index, i, header, kind, via, round(share, 3), int(filled[i])))
    return out


def fields_of(kind: str) -> tuple[str, ...]:
    """Registry field names a column of ``kind`` exposes."""
    if kind == K.FULL_NAME:
        return ("given_name", "family_name")
    if kind in (K.UNKNOWN, K.DATE):
        return ()
    return (kind,)


__all__ = ["Column", "Vocabulary", "classify", "fields_of", "infer_columns"]
