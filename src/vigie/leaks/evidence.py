"""Field evidence: which fields a leaked file really holds, judged by their values.

A header says what a column is meant to hold; only its values say what the file holds.
A reseller's spreadsheet may carry an empty "Nationalité" column, a column of "N/A", the
same value on every row, or values made up or taken from elsewhere. None of these shows
that whoever put the file together held that field, so none may veto a processor or
point to the controller's side (:mod:`vigie.leaks.attribution`).

For each kind of column the file holds, over the rows linked to a person:

- ``filled``: rows with a non-empty value; ``values``: those that are not a placeholder
  (:func:`vigie.leaks.kinds.is_placeholder`: "-", "N/A", "0", "inconnu"…);
- ``agree``: values equal to the linked person's value in some version of their record,
  normalised as linking normalises them (names compared as linking compares them:
  exactly, or ``token_sort_ratio`` of at least ``FUZZY_MIN``, or a wildcard fit; a
  masked birth year or department agrees with the date or postal code it masks).

:func:`judge` (pure) turns these counts into a verdict: ``evidence`` only when at least
:func:`needed_values` rows hold a value, those values are not all the same, and at least
``MIN_AGREEMENT`` of them agree with the registry. Otherwise the column is ``empty``,
``placeholder`` (placeholders only), ``constant`` (one value everywhere), ``too_few``
(values, but too few to show anything) or ``mismatch`` (the values are not the people's:
invented or from elsewhere).

Per person (:func:`vigie.leaks.exposure.affected_people`): a field is exposed when one
of their rows holds a value that is not a placeholder, and either the column is evidence
or that value agrees with their record — an invented value exposed nothing of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb

from vigie.leaks import kinds as K
from vigie.leaks.columns import fields_of
from vigie.leaks.linking import FUZZY_MIN, register_similarity

# A field no processor received, whose values agree with the registry for 50 people, is
# not a coincidence: for a field of even a dozen values, 50 chance agreements out of 50
# have a probability below 10**-50. Fewer values than that can come from a side source
# (a reseller filling a few rows by hand) and prove nothing about the file's origin.
MIN_VALUES = 50
# A small file cannot hold 50 values: there, half of its linked rows must hold one...
SMALL_FILE_SHARE = 0.5
# ...and never fewer than the people attribution needs to name anyone (MIN_EXPLAINED).
MIN_VALUES_FLOOR = 10
# Values copied from the registry agree almost always (a version we do not hold, a typo
# explain the rest); random or borrowed values agree by chance only, at most as often
# as the commonest value is held (below 60% for every field of the registry but sex,
# where chance is about half).
MIN_AGREEMENT = 0.8

VERDICTS = {
    "evidence": "evidence",
    "empty": "ignored: empty",
    "placeholder": "ignored: constant placeholder",
    "constant": "ignored: constant placeholder (one value everywhere)",
    "too_few": "ignored: too few values",
    "mismatch": "ignored: values do not match the registry (invented or from elsewhere)",
}


def needed_values(linked_rows: int) -> int:
    """Values a column must hold, among ``linked_rows`` linked rows, to be evidence."""
    return max(MIN_VALUES_FLOOR, min(MIN_VALUES, math.ceil(SMALL_FILE_SHARE * linked_rows)))


def judge(*, linked_rows: int, filled: int, values: int, distinct: int, agree: int) -> str:
    """The verdict (a key of ``VERDICTS``) on one column from its counts over linked rows."""
    if filled == 0:
        return "empty"
    if values == 0:
        return "placeholder"
    if distinct <= 1 and values > 1:
        return "constant"
    if values < needed_values(linked_rows):
        return "too_few"
    if agree < MIN_AGREEMENT * values:
        return "mismatch"
    return "evidence"


@dataclass(frozen=True)
class FieldVerdict:
    """What the values of one kind of column showed, over the rows linked to a person."""

    kind: str
    verdict: str
    linked_rows: int
    filled: int
    values: int
    agree: int

    @property
    def evidence(self) -> bool:
        return self.verdict == "evidence"

    @property
    def fields(self) -> tuple[str, ...]:
        return fields_of(self.kind)

    def note(self) -> str:
        """One line for the report: "evidence (40 present, 100% agree with the registry)"."""
        text = VERDICTS[self.verdict]
        if self.verdict in ("empty", "placeholder"):
            return text
        share = round(100 * self.agree / self.values) if self.values else 0
        detail = f"{self.values} present, {share}% agree with the registry"
        if self.verdict == "too_few":
            detail += f"; {needed_values(self.linked_rows)} needed"
        return f"{text} ({detail})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "note": self.note(),
            "linked_rows": self.linked_rows,
            "filled": self.filled,
            "values": self.values,
            "agree": self.agree,
        }


def _agree_sql(kind: str) -> str | None:
    """SQL: the dump row ``d`` agrees with registry version ``r`` on ``kind``."""
    same = {
        "ref": "d.ref_n = r.ref_n",
        "email": "d.email_n = r.email_n",
        "phone": "d.phone_n = r.phone_n",
        K.PSEUDONYM: "h.subject_id IS NOT NULL",
        "given_name": "d.given_name_t = r.given_key",
        "family_name": "d.family_name_t = r.family_key",
        K.FULL_NAME: f"({_FULL_KEY} = r.name_key OR {_FULL_KEY} = r.native_key)",
        "given_name_native": "list_has_all(string_split(r.native_key, ' '), "
        "string_split(d.given_name_native_t, ' '))",
        "family_name_native": "list_has_all(string_split(r.native_key, ' '), "
        "string_split(d.family_name_native_t, ' '))",
        "birth_date": "coalesce(d.birth_date = r.birth_date, d.birth_year = year(r.birth_date))",
        "sex": "d.sex = r.sex",
        "birth_country": "d.birth_country = r.birth_country",
        "nationality": "d.nationality = r.nationality",
        "preferred_language": "d.preferred_language = lower(r.preferred_language)",
        "address_line": "d.address_n = r.address_n",
        "postal_code": "coalesce(d.postal_code = r.postal_code, "
        "starts_with(r.postal_code, d.department))",
        "city": "d.city_n = r.city_n",
        "region": "d.region = upper(r.region)",
        "entry_date": "d.entry_date = r.entry_date",
        "residence_reason": "d.residence_reason = lower(r.residence_reason)",
        "residence_status": "d.residence_status = lower(r.residence_status)",
        "cir_signed_on": "d.cir_signed_on = r.cir_signed_on",
        "course_hours": "d.course_hours = TRY_CAST(r.course_hours AS INTEGER)",
        "course_level": "d.course_level = upper(r.course_level)",
    }
    return same.get(kind)


# A full name's tokens in the registry's order (sorted), to compare with ``name_key``.
_FULL_KEY = "array_to_string(list_sort(string_split(d.full_name_t, ' ')), ' ')"
# Name kinds compared fuzzily, as linking does: (the row's tokens, the registry's key).
_FUZZY = {
    "given_name": ("d.given_name_t", "r.given_key", "''"),
    "family_name": ("d.family_name_t", "r.family_key", "''"),
    K.FULL_NAME: (_FULL_KEY, "r.name_key", "coalesce(r.native_key, '')"),
}


def field_evidence(con: duckdb.DuckDBPyConnection, present: list[str]) -> dict[str, FieldVerdict]:
    """Table ``row_fields`` and the verdict on each kind of ``present`` that is a field.

    ``row_fields`` holds one row per linked row: ``row_id``, ``subject_id``, and per
    kind ``k`` the flags ``k_a`` (the row's value agrees with some version of the linked
    person) and ``k_v`` (the row holds a value that is not a placeholder).
    """
    kinds = [k for k in present if fields_of(k) and _agree_sql(k) is not None]
    if not kinds:
        con.execute("CREATE OR REPLACE TABLE row_fields AS SELECT row_id, subject_id FROM links")
        return {}
    joins = "JOIN dump d USING (row_id) "
    if K.PSEUDONYM in kinds:
        joins += (
            "LEFT JOIN pseudo_hits h ON h.pseudonym = d.pseudonym AND h.subject_id = l.subject_id "
        )
    agree = "".join(f", coalesce(bool_or({_agree_sql(k)}), false) AS {k}_a" for k in kinds)
    con.execute(
        f"""CREATE OR REPLACE TABLE evidence_agree AS
            SELECT l.row_id, any_value(l.subject_id) AS subject_id{agree}
            FROM links l {joins} JOIN reg r ON r.subject_id = l.subject_id
            GROUP BY l.row_id"""
    )
    for kind in kinds:
        if kind in _FUZZY:
            _fuzzy_names(con, kind)
    # A value that agrees is no placeholder: the (costly) test runs on the others only.
    told = "".join(
        f", a.{k}_a, CASE WHEN a.{k}_a THEN true WHEN s.{k} IS NULL THEN false "
        f"ELSE NOT {K.placeholder_sql(f's.{k}')} END AS {k}_v"
        for k in kinds
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE row_fields AS
            SELECT a.row_id, a.subject_id{told}
            FROM evidence_agree a JOIN dump_src s USING (row_id)"""
    )
    counts = ", ".join(
        f"count(s.{k}), count(*) FILTER (WHERE f.{k}_v), count(*) FILTER (WHERE f.{k}_a), "
        f"min(s.{k}) FILTER (WHERE f.{k}_v) IS DISTINCT FROM max(s.{k}) FILTER (WHERE f.{k}_v)"
        for k in kinds
    )
    row = con.execute(
        f"SELECT count(*), {counts} FROM row_fields f JOIN dump_src s USING (row_id)"
    ).fetchall()[0]
    linked = int(row[0])
    verdicts = {}
    for i, kind in enumerate(kinds):
        filled, values, agreeing, varied = row[1 + 4 * i : 5 + 4 * i]
        verdict = judge(
            linked_rows=linked,
            filled=int(filled),
            values=int(values),
            distinct=2 if varied else 1,
            agree=int(agreeing),
        )
        verdicts[kind] = FieldVerdict(
            kind, verdict, linked, int(filled), int(values), int(agreeing)
        )
    return verdicts


def _fuzzy_names(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """Mark in ``evidence_agree`` the names of ``kind`` that agree only fuzzily."""
    a, b, c = _FUZZY[kind]
    pairs = """FROM evidence_agree f JOIN dump d USING (row_id)
               JOIN reg r ON r.subject_id = f.subject_id"""
    open_ = f"NOT f.{kind}_a AND {a} IS NOT NULL"
    table = f"evidence_{kind}"
    register_similarity(
        con, f"SELECT DISTINCT {a}, coalesce({b}, ''), {c} {pairs} WHERE {open_}", table
    )
    con.execute(
        f"""UPDATE evidence_agree SET {kind}_a = true WHERE row_id IN (
                SELECT f.row_id {pairs}
                JOIN {table} v ON v.a = {a} AND v.b = coalesce({b}, '') AND v.c = {c}
                WHERE {open_} AND v.sim >= {FUZZY_MIN})"""
    )


def evidence_fields(verdicts: dict[str, FieldVerdict]) -> list[str]:
    """The registry fields the file holds, by the evidence of their values."""
    return sorted({f for v in verdicts.values() if v.evidence for f in v.fields})
