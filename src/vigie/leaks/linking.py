"""Linking leaked rows to registry people, with a confidence per row.

**Scoring.** Every candidate (row, person, version) is scored Fellegi–Sunter style, in
bits: an agreeing value adds ``log2(N / f)`` where ``N`` is the registry size and ``f``
the number of people sharing that value (a rare name weighs more than a common one;
identifiers weigh a fixed amount), a disagreeing value subtracts a fixed penalty. A
score ``s`` is posterior odds ``2**s / N`` against a person drawn at random, so the
confidence of the best candidate ``i`` of a row is ``odds_i / (1 + sum_j odds_j)`` over
all its candidates — two equally good candidates share the confidence and neither
passes. A row is linked when its best confidence reaches the threshold (setting
``leak_match_threshold``, default 0.99).

**Candidates, in two rounds.**

1. Identifiers: e-mail, phone, ``ref`` and pseudonym (decoded under each processor's
   key). A row is *settled* when its best identifier candidate reaches the threshold and
   disagrees with the row on no field at all: any other person lacks the identifier, so
   scores at least ``W + P`` (25 bits or more) below it and could not move the
   confidence by more than about ``2**-25`` per such person.
2. Names, for the rows not settled: the name key combined with birth date or postal
   code, the family name with birth date, the name alone when it is rare; then, for rows
   still without a candidate, the birth date alone with a fuzzy name comparison
   (rapidfuzz ``ratio`` on the sorted tokens, i.e. ``token_sort_ratio``).

Name comparisons run once per *distinct* pair of names, not per candidate.

**One person, one row.** A leaked file normally holds each person once. A row left
ambiguous (two people share its name and birth date, say) is decided when every other
candidate is already the person of another confidently linked row: those candidates'
odds are multiplied by the share ``d`` of linked rows whose person is linked more than
once in the file (Laplace-smoothed), and the confidence recomputed. In a file without
duplicates ``d`` is tiny and the exclusion decides; in a file that repeats people (two
processors' extracts merged) ``d`` is large and it changes nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.leaks.kinds import wildcard_match
from vigie.secrets import InstanceSecrets

# Fixed weights (bits) for identifiers and penalties for disagreement.
W_REF, W_EMAIL, W_PHONE, W_PSEUDONYM = 30.0, 24.0, 22.0, 40.0
P_REF, P_EMAIL, P_PHONE, P_PSEUDONYM = 15.0, 3.0, 3.0, 20.0
P_NAME, P_BIRTH, P_POSTAL, P_NATIONALITY, P_SEX = 12.0, 10.0, 2.0, 4.0, 4.0
W_YEAR, W_DEPARTMENT = 5.0, 4.0  # masked values: birth year, department
# A row's full name and birth date, both exactly those of a registry person, are worth
# at least this many bits together: as much as a phone number and an unrelated field.
# Two people sharing both then split the confidence; neither reaches the threshold.
W_NAME_BIRTH = 28.0
FUZZY_MIN = 85.0  # token_sort_ratio from which two names agree (with a 4-bit discount)
FUZZY_DISCOUNT = 4.0
RARE_NAME = 20  # a name key shared by at most this many people is a block on its own
MAX_CANDIDATES_PER_DATE = 5_000  # the default of setting ``leak_fuzzy_date_cap``


def decode_pseudonyms(
    con: duckdb.DuckDBPyConnection, secrets: InstanceSecrets, processor_ids: list[int]
) -> None:
    """Table ``pseudo_hits(pseudonym, processor_id, subject_id)`` for the dump's pseudonyms."""
    values = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT pseudonym FROM dump WHERE pseudonym IS NOT NULL"
        ).fetchall()
    ]
    blocks: list[bytes] = []
    kept: list[str] = []
    for v in values:
        try:
            raw = base64.b32decode(v.upper() + "======")
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 16:
            blocks.append(raw)
            kept.append(v)
    hits: dict[str, list[int]] = {"pseudonym": [], "processor_id": [], "subject_id": []}
    if kept:
        joined = b"".join(blocks)
        # Every version of each processor's key: a leak made before a rotation still names
        # its processor (a pseudonym decodes under at most one key, but 2**-64).
        for pid in processor_ids:
            for pseudonymiser in Pseudonymiser.every_version(secrets, pid):
                dec = pseudonymiser._cipher.decryptor()
                plain = dec.update(joined) + dec.finalize()
                # Pseudonymiser's block: subject_id (>Q), processor_id (>I), zero tag (>I).
                arr = np.frombuffer(
                    plain, dtype=np.dtype([("s", ">u8"), ("p", ">u4"), ("t", ">u4")])
                )
                ok = np.nonzero((arr["p"] == pid) & (arr["t"] == 0))[0]
                for i in ok:
                    hits["pseudonym"].append(kept[int(i)])  # type: ignore[arg-type]
                    hits["processor_id"].append(pid)
                    hits["subject_id"].append(int(arr["s"][i]))
    con.register(
        "_hits",
        {k: np.array(v, dtype=object if k == "pseudonym" else np.int64) for k, v in hits.items()},
    )
    con.execute(
        "CREATE OR REPLACE TABLE pseudo_hits AS SELECT CAST(pseudonym AS VARCHAR) AS pseudonym, "
        "CAST(processor_id AS BIGINT) AS processor_id, "
        "CAST(subject_id AS BIGINT) AS subject_id FROM _hits"
    )
    con.unregister("_hits")


# -- scoring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One field's part of the score.

    ``column``: the dump column it reads (a file without it leaves the term out), and
    the field an explanation names (``label`` when two terms read one column);
    ``applies``: both sides hold the field; ``agree``: the bits it adds, NULL when the
    values disagree (then ``penalty`` bits are subtracted and the row conflicts).
    """

    column: str
    applies: str
    agree: str
    penalty: float
    label: str = ""  # how an explanation names it (the column's, when empty)

    @property
    def name(self) -> str:
        return self.label or self.column


# The fields whose agreement is weighed by how common the value is (``reg_freq`` kind).
TF_KINDS = {"name": "r.name_freq", "family": "r.family_freq", "birth": "r.birth_freq",
            "postal": "r.postal_freq"}  # fmt: skip


@dataclass(frozen=True)
class Weights:
    """How an agreeing name, family name, birth date or postal code is weighed.

    With term frequencies (the default, setting ``leak_term_frequency``), a value ``f``
    people share is worth ``log2(N / f)`` bits: a common name less than a rare one. Without,
    every value of a field is worth the same, ``-log2(sum of (f / N)**2)`` over the field's
    values: the bits of agreeing on it by chance (``u`` of Splink's exact level, ``m`` taken
    as 1) — Splink's weight before its term-frequency adjustment.
    """

    log_n: float
    flat: dict[str, float] | None = None  # kind -> bits, when term frequencies are off

    def bits(self, kind: str) -> str:
        """SQL: the bits of agreeing on field ``kind`` (a key of :data:`TF_KINDS`)."""
        if self.flat is not None:
            return f"({self.flat[kind]})"
        return f"({self.log_n} - log2(greatest({TF_KINDS[kind]}, 1)))"

    @classmethod
    def of(
        cls, con: duckdb.DuckDBPyConnection, *, registry_size: int, term_frequency: bool
    ) -> Weights:
        n = max(registry_size, 2)
        log_n = float(np.log2(n))
        if term_frequency:
            return cls(log_n)
        # fsum: a compensated sum, the same to the last digit whatever order DuckDB's
        # threads add in (a plain sum could round one weight the other way between runs).
        got = dict(
            con.execute(
                f"""SELECT kind, -log2(fsum(pow(n / {float(n)}, 2))) FROM reg_freq
                    WHERE value IS NOT NULL AND kind IN ({", ".join(f"'{k}'" for k in TF_KINDS)})
                    GROUP BY kind"""
            ).fetchall()
        )
        return cls(log_n, {k: round(float(got.get(k) or log_n), 3) for k in TF_KINDS})


def _terms(weights: Weights) -> list[Term]:
    name = weights.bits("name")
    birth = weights.bits("birth")
    same_name = "(d.name_key = r.name_key OR d.name_key = r.native_key)"
    return [
        Term("ref_n", "d.ref_n IS NOT NULL AND r.ref_n IS NOT NULL",
             f"CASE WHEN d.ref_n = r.ref_n THEN {W_REF} END", P_REF),
        Term("email_n", "d.email_n IS NOT NULL AND r.email_n IS NOT NULL",
             f"CASE WHEN d.email_n = r.email_n THEN {W_EMAIL} END", P_EMAIL),
        Term("phone_n", "d.phone_n IS NOT NULL AND r.phone_n IS NOT NULL",
             f"CASE WHEN d.phone_n = r.phone_n THEN {W_PHONE} END", P_PHONE),
        Term("pseudonym", "d.pseudonym IS NOT NULL",
             f"CASE WHEN h.subject_id IS NOT NULL THEN {W_PSEUDONYM} END", P_PSEUDONYM),
        Term("name_key", "d.name_key IS NOT NULL", f"""CASE
                WHEN d.family_only THEN CASE WHEN d.family_key = r.family_key
                    THEN {weights.bits("family")} END
                WHEN d.given_only THEN CASE WHEN d.name_key = r.given_key THEN 2 END
                WHEN {same_name} OR d.native_key = r.native_key THEN {name}
                WHEN s.sim >= {FUZZY_MIN} THEN {name} - {FUZZY_DISCOUNT} END""", P_NAME),
        # The same name and birth date: a floor on the name and date terms together,
        # whoever else shares them (their candidates then share the confidence).
        Term("birth_date", f"d.birth_date = r.birth_date AND {same_name}",
             f"greatest(0, {W_NAME_BIRTH} - {name} - {birth})", 0.0,
             "name and birth date together (floor)"),
        Term("birth_date", "d.birth_date IS NOT NULL AND r.birth_date IS NOT NULL",
             f"CASE WHEN d.birth_date = r.birth_date THEN {birth} END", P_BIRTH),
        Term("birth_year",
             "d.birth_date IS NULL AND d.birth_year IS NOT NULL AND r.birth_date IS NOT NULL",
             f"CASE WHEN d.birth_year = year(r.birth_date) THEN {W_YEAR} END", P_BIRTH),
        Term("department", "d.department IS NOT NULL AND r.postal_code IS NOT NULL",
             f"CASE WHEN starts_with(r.postal_code, d.department) THEN {W_DEPARTMENT} END",
             P_POSTAL),
        Term("postal_code", "d.postal_code IS NOT NULL AND r.postal_code IS NOT NULL",
             f"CASE WHEN d.postal_code = r.postal_code THEN {weights.bits('postal')} END",
             P_POSTAL),
        Term("address_n", "d.address_n IS NOT NULL",
             "CASE WHEN d.address_n = r.address_n THEN 12 END", 2),
        Term("city_n", "d.city_n IS NOT NULL", "CASE WHEN d.city_n = r.city_n THEN 3 END", 1),
        Term("nationality", "d.nationality IS NOT NULL",
             "CASE WHEN d.nationality = r.nationality THEN 2 END", P_NATIONALITY),
        Term("birth_country", "d.birth_country IS NOT NULL",
             "CASE WHEN d.birth_country = r.birth_country THEN 2 END", P_NATIONALITY),
        Term("sex", "d.sex IS NOT NULL", "CASE WHEN d.sex = r.sex THEN 0.5 END", P_SEX),
        Term("entry_date", "d.entry_date IS NOT NULL",
             "CASE WHEN d.entry_date = r.entry_date THEN 8 END", 3),
        Term("cir_signed_on", "d.cir_signed_on IS NOT NULL",
             "CASE WHEN d.cir_signed_on = r.cir_signed_on THEN 8 END", 3),
        Term("residence_reason", "d.residence_reason IS NOT NULL",
             "CASE WHEN d.residence_reason = lower(r.residence_reason) THEN 1 END", 1),
        Term("residence_status", "d.residence_status IS NOT NULL",
             "CASE WHEN d.residence_status = lower(r.residence_status) THEN 1 END", 1),
    ]  # fmt: skip


def term_select(pairs: str, terms: list[Term], *, versioned: bool = False) -> str:
    """The SELECT of each term's bits ``t0..tN`` for every version of every (row, person)
    of table ``pairs`` — only the version ``pairs.version`` when ``versioned``."""
    parts = (
        ",\n".join(
            f"CASE WHEN coalesce({t.applies}, false) THEN coalesce({t.agree}, -{t.penalty}) "
            f"ELSE 0 END AS t{i}"
            for i, t in enumerate(terms)
        )
        or "0 AS t0"
    )
    columns = {t.column for t in terms}
    joins = ""
    if "pseudonym" in columns:
        joins += """LEFT JOIN pseudo_hits h ON h.pseudonym = d.pseudonym
                AND h.subject_id = r.subject_id\n"""
    if "name_key" in columns:
        joins += """LEFT JOIN name_sim s ON s.row_id = c.row_id AND s.subject_id = r.subject_id
                AND s.version = r.version"""
    version = " AND r.version = c.version" if versioned else ""
    return f"""
            SELECT c.row_id, r.subject_id, r.version, r.valid_from, r.valid_to, r.is_canary,
                   {parts}
            FROM {pairs} c JOIN dump d USING (row_id)
            JOIN reg r ON r.subject_id = c.subject_id{version}
            {joins}"""


def _score(con: duckdb.DuckDBPyConnection, pairs: str, terms: list[Term], *, create: bool) -> None:
    """Score every version of every (row, person) pair of table ``pairs`` into ``scored``,
    with ``conflicts`` the number of fields on which the row and the version disagree
    (the terms that subtract)."""
    count = max(len(terms), 1)
    score = " + ".join(f"t{i}" for i in range(count))
    conflicts = " + ".join(f"CAST(t{i} < 0 AS INTEGER)" for i in range(count))
    head = "CREATE OR REPLACE TABLE scored AS" if create else "INSERT INTO scored"
    con.execute(
        f"""
        {head}
        SELECT row_id, subject_id, version, valid_from, valid_to, is_canary,
               {score} AS score, {conflicts} AS conflicts
        FROM ({term_select(pairs, terms)})
        """
    )


def present_terms(con: duckdb.DuckDBPyConnection, weights: Weights) -> list[Term]:
    """The scoring terms whose dump column holds a value in some row."""
    terms = _terms(weights)
    columns = sorted({t.column for t in terms})
    row = con.execute(
        "SELECT " + ", ".join(f"count({c}) > 0" for c in columns) + " FROM dump"
    ).fetchall()[0]
    present = {c for c, filled in zip(columns, row, strict=True) if filled}
    return [t for t in terms if t.column in present]


# -- name similarity ---------------------------------------------------------------------


def _similarity(a: list[str], b: list[str], c: list[str], fit: np.ndarray) -> np.ndarray:
    """Best ``token_sort_ratio`` of each name key ``a[i]`` with ``b[i]`` or ``c[i]``;
    letters lost to the encoding (``?``) agree when the rest fits exactly — tried only
    where ``fit[i]`` (:func:`_wildcard_may_fit`) allows it."""
    if not a:
        return np.zeros(0)
    scores: np.ndarray = np.maximum(
        cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=-1),
        cpdist(a, c, scorer=fuzz.token_sort_ratio, workers=-1),
    ).astype(np.float64)
    for i in np.flatnonzero(fit & (scores < FUZZY_MIN)).tolist():
        if wildcard_match(a[i], b[i]) or (c[i] and wildcard_match(a[i], c[i])):
            scores[i] = FUZZY_MIN
    return scores


def register_similarity(con: duckdb.DuckDBPyConnection, query: str, table: str) -> None:
    """Table ``table(a, b, c, sim)``: ``query``'s distinct name triples and their similarity."""
    fit = f"{_wildcard_may_fit('a', 'b')} OR {_wildcard_may_fit('a', 'c')}"
    con.execute(
        f"CREATE OR REPLACE TABLE {table}_names AS "
        f"SELECT row_number() OVER () AS i, *, {fit} AS fit FROM ({query}) q(a, b, c)"
    )
    names = con.execute(f"SELECT a, b, c, fit FROM {table}_names ORDER BY i").fetchnumpy()
    a, b, c = (names[k].tolist() for k in ("a", "b", "c"))
    sims = _similarity(a, b, c, np.asarray(names["fit"], dtype=bool))
    con.register("_sim", {"i": np.arange(1, len(sims) + 1, dtype=np.int64), "sim": sims})
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
            SELECT n.a, n.b, n.c, s.sim FROM {table}_names n JOIN _sim s USING (i)"""
    )
    con.unregister("_sim")


def _name_similarity(con: duckdb.DuckDBPyConnection, pairs: str) -> None:
    """Add to ``name_sim(row_id, subject_id, version, sim)`` the versions of ``pairs`` whose
    name keys differ from the row's."""
    joined = f"{pairs} c JOIN dump d USING (row_id) JOIN reg r USING (subject_id)"
    differ = """d.name_key IS NOT NULL AND NOT d.given_only AND NOT d.family_only
        AND d.name_key <> r.name_key AND d.name_key IS DISTINCT FROM r.native_key"""
    register_similarity(
        con,
        f"SELECT DISTINCT d.name_key, r.name_key, coalesce(r.native_key, '') "
        f"FROM {joined} WHERE {differ}",
        "sim_values",
    )
    con.execute(
        f"""INSERT INTO name_sim SELECT c.row_id, r.subject_id, r.version, v.sim
            FROM {joined} JOIN sim_values v ON v.a = d.name_key AND v.b = r.name_key
                AND v.c = coalesce(r.native_key, '')
            WHERE {differ}"""
    )


# -- candidates --------------------------------------------------------------------------


def _union(selects: Iterable[str]) -> str:
    return "SELECT DISTINCT row_id, subject_id FROM (" + " UNION ALL ".join(selects) + ")"


def _identifier_candidates(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE cand AS "
        + _union(
            [
                *(
                    f"SELECT d.row_id, r.subject_id FROM dump d JOIN reg r ON d.{k} = r.{k}"
                    for k in ("email_n", "phone_n", "ref_n")
                ),
                "SELECT d.row_id, h.subject_id FROM dump d "
                "JOIN pseudo_hits h ON d.pseudonym = h.pseudonym",
            ]
        )
    )


def _wildcard_may_fit(a: str, b: str) -> str:
    """SQL, necessary for :func:`wildcard_match` of name key ``a`` with ``b``: ``a`` has
    a ``?``, each stands for one or two letters, and both have as many tokens."""

    def count(text: str, char: str) -> str:
        return f"(length({text}) - length(replace({text}, '{char}', '')))"

    la, lb, wild = f"length({a})", f"length({b})", count(a, "?")
    return (
        f"({wild} > 0 AND {lb} BETWEEN {la} AND {la} + {wild} "
        f"AND {count(a, ' ')} = {count(b, ' ')})"
    )


def _may_be_close(a: str, b: str) -> str:
    """SQL: name keys ``a`` and ``b`` may agree — their lengths allow a ``ratio`` of at
    least FUZZY_MIN (``200 * matches / (len a + len b)``, ``matches <= min(len)``), or a
    wildcard fit."""
    la, lb = f"length({a})", f"length({b})"
    return f"(200 * least({la}, {lb}) >= {FUZZY_MIN} * ({la} + {lb}) OR {_wildcard_may_fit(a, b)})"


def _name_candidates(con: duckdb.DuckDBPyConnection, date_cap: int) -> int:
    """Table ``cand_names``: name-based candidates of the rows ``todo`` holds. Returns
    how many rows the birth-date fallback could not search (see :class:`Linked`)."""
    blocks = [
        "d.name_key = r.name_key AND d.birth_date = r.birth_date",
        "d.native_key = r.native_key AND d.birth_date = r.birth_date",
        "d.name_key = r.native_key AND d.birth_date = r.birth_date",
        "d.name_key = r.name_key AND d.postal_code = r.postal_code",
        "d.family_key = r.family_key AND d.birth_date = r.birth_date",
    ]
    rare = f"""SELECT d.row_id, r.subject_id FROM todo d
        JOIN (SELECT value FROM reg_freq WHERE kind = 'name' AND n <= {RARE_NAME}) f
          ON d.name_key = f.value
        JOIN reg r ON r.name_key = d.name_key"""
    con.execute(
        "CREATE OR REPLACE TABLE cand_names AS "
        + _union(
            [
                *(f"SELECT d.row_id, r.subject_id FROM todo d JOIN reg r ON {b}" for b in blocks),
                rare,
            ]
        )
    )
    # Rows with a name and a birth date but still no candidate: block on the birth date,
    # keep the pairs whose names are close — unless too many people share that date.
    crowded = con.execute(
        f"""SELECT count(*) FROM todo d ANTI JOIN cand_names USING (row_id)
            JOIN reg_freq f ON f.kind = 'birth' AND f.value = CAST(d.birth_date AS VARCHAR)
            WHERE f.n > {int(date_cap)}"""
    ).fetchall()[0][0]
    con.execute(
        f"""CREATE OR REPLACE TABLE fuzzy_pairs AS
        SELECT d.row_id, r.subject_id, d.name_key AS a, r.name_key AS b,
               coalesce(r.native_key, '') AS c
        FROM (SELECT * FROM todo ANTI JOIN cand_names USING (row_id)
              WHERE birth_date IS NOT NULL) d
        JOIN reg r ON d.birth_date = r.birth_date
        WHERE r.birth_freq <= {int(date_cap)}
          AND ({_may_be_close("d.name_key", "r.name_key")}
               OR {_may_be_close("d.name_key", "r.native_key")})"""
    )
    register_similarity(con, "SELECT DISTINCT a, b, c FROM fuzzy_pairs", "fuzzy_values")
    con.execute(
        f"""INSERT INTO cand_names SELECT DISTINCT p.row_id, p.subject_id FROM fuzzy_pairs p
            JOIN fuzzy_values v USING (a, b, c) WHERE v.sim >= {FUZZY_MIN}"""
    )
    return int(crowded)


# -- deciding ----------------------------------------------------------------------------


def _best(
    con: duckdb.DuckDBPyConnection, log_n: float, source: str, table: str, weight: str = "1"
) -> None:
    """Table ``table(row_id, subject_id, is_canary, score, conflicts, confidence)``: each
    row's best person among ``source``'s, its candidates' odds multiplied by ``weight``."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {table} AS
        WITH odds AS (
            SELECT p.*, pow(2.0, least(p.score, 1000) - {log_n}) * ({weight}) AS odds
            FROM {source} p),
        best AS (
            SELECT row_id, arg_max({{'subject_id': subject_id, 'is_canary': is_canary,
                       'score': score, 'conflicts': conflicts}}, odds) AS b,
                   -- fsum (compensated): the same total whatever order threads add in
                   max(odds) / (1 + fsum(odds)) AS confidence
            FROM odds GROUP BY row_id)
        SELECT row_id, b.subject_id, b.is_canary, b.score, b.conflicts, confidence FROM best
        """
    )


def _per_subject(con: duckdb.DuckDBPyConnection, scored: str, table: str) -> None:
    """Table ``table``: each (row, person) of ``scored`` at the score of its best version."""
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
            SELECT row_id, subject_id, any_value(is_canary) AS is_canary,
                   max(score) AS score, arg_max(conflicts, score) AS conflicts
            FROM {scored} GROUP BY row_id, subject_id"""
    )


@dataclass(frozen=True)
class Linked:
    """What :func:`link` left undone, for the report to say.

    ``crowded_rows``: rows that reached the last fallback (a name and a birth date, no
    candidate from any block) but whose birth date more than ``date_cap`` registry
    people share (setting ``leak_fuzzy_date_cap``), so they were compared with nobody —
    in a registry of tens of millions the busiest dates pass the default cap. Such a row
    may belong to a registry person and is left unlinked."""

    crowded_rows: int


def link(
    con: duckdb.DuckDBPyConnection,
    *,
    registry_size: int,
    threshold: float,
    term_frequency: bool = True,
    date_cap: int = MAX_CANDIDATES_PER_DATE,
) -> Linked:
    """Tables ``scored`` (every candidate version) and ``links`` (best person per linked row);
    ``term_frequency``: see :class:`Weights`; ``date_cap``: see :class:`Linked`."""
    weights = Weights.of(con, registry_size=registry_size, term_frequency=term_frequency)
    log_n = weights.log_n
    limit = float(threshold)
    con.execute(
        "CREATE OR REPLACE TABLE name_sim "
        "(row_id BIGINT, subject_id BIGINT, version BIGINT, sim DOUBLE)"
    )
    terms = present_terms(con, weights)
    _identifier_round(con, terms, log_n, limit)
    crowded = _name_round(con, terms, log_n, date_cap)
    _one_person_one_row(con, log_n, limit)
    con.execute(
        f"""CREATE OR REPLACE TABLE links AS
            SELECT row_id, subject_id, is_canary, score, confidence FROM settled
            UNION ALL
            SELECT row_id, subject_id, is_canary, score, confidence FROM first
            WHERE confidence >= {limit}
            UNION ALL
            SELECT row_id, subject_id, is_canary, score, confidence FROM second
            WHERE confidence >= {limit}"""
    )
    return Linked(crowded_rows=crowded)


def _identifier_round(
    con: duckdb.DuckDBPyConnection, terms: list[Term], log_n: float, limit: float
) -> None:
    """Tables ``scored`` (identifier candidates) and ``settled`` (rows decided here)."""
    _identifier_candidates(con)
    _name_similarity(con, "cand")
    _score(con, "cand", terms, create=True)
    _per_subject(con, "scored", "per_subject")
    _best(con, log_n, "per_subject", "best_ids")
    con.execute(
        f"""CREATE OR REPLACE TABLE settled AS SELECT * FROM best_ids
            WHERE confidence >= {limit} AND conflicts = 0"""
    )


def _name_round(
    con: duckdb.DuckDBPyConnection, terms: list[Term], log_n: float, date_cap: int
) -> int:
    """Name candidates of the rows not settled, scored into ``scored``; table ``first``:
    each such row's best person over all its candidates. Returns the crowded rows."""
    con.execute(
        """CREATE OR REPLACE TABLE todo AS
           SELECT * FROM dump ANTI JOIN settled USING (row_id) WHERE name_key IS NOT NULL"""
    )
    crowded = _name_candidates(con, date_cap)
    con.execute(
        "CREATE OR REPLACE TABLE cand_new AS SELECT * FROM cand_names EXCEPT SELECT * FROM cand"
    )
    _name_similarity(con, "cand_new")
    _score(con, "cand_new", terms, create=False)
    con.execute(
        "CREATE OR REPLACE VIEW open_scored AS "
        "SELECT * FROM scored ANTI JOIN settled USING (row_id)"
    )
    _per_subject(con, "open_scored", "per_subject")
    _best(con, log_n, "per_subject", "first")
    return crowded


def _one_person_one_row(con: duckdb.DuckDBPyConnection, log_n: float, limit: float) -> None:
    """Table ``second``: the rows ``first`` left undecided, decided again with the people
    other rows confidently claim weighed by the file's share of repeated people."""
    con.execute(
        f"""CREATE OR REPLACE TABLE claimed AS
            SELECT subject_id, count(*) AS rows FROM (
                SELECT subject_id FROM settled
                UNION ALL SELECT subject_id FROM first WHERE confidence >= {limit})
            GROUP BY subject_id"""
    )
    row = con.execute("SELECT coalesce(sum(rows), 0), count(*) FROM claimed").fetchall()[0]
    linked, people = int(row[0]), int(row[1])
    duplicates = (linked - people + 1) / (linked + 2)
    con.execute(
        f"""CREATE OR REPLACE TABLE per_subject AS
            SELECT p.* FROM per_subject p SEMI JOIN (
                SELECT row_id FROM first WHERE confidence < {limit}) USING (row_id)"""
    )
    claimed_weight = (
        f"CASE WHEN subject_id IN (SELECT subject_id FROM claimed) THEN {duplicates} ELSE 1 END"
    )
    _best(con, log_n, "per_subject", "second", claimed_weight)
