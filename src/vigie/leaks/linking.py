"""Linking leaked rows to registry people, with a confidence per row.

Candidates come from blocking on exact keys — e-mail, phone, ``ref``, pseudonym (decoded
under each processor's key), and the name key combined with birth date or postal code,
or alone when the name is rare — then, for rows left without a candidate, from the
birth date alone with a fuzzy name comparison (rapidfuzz ``token_sort_ratio``).

Every candidate (row, person, version) is scored Fellegi–Sunter style, in bits: an
agreeing value adds ``log2(N / f)`` where ``N`` is the registry size and ``f`` the number
of people sharing that value (a rare name weighs more than a common one; identifiers
weigh a fixed amount), a disagreeing value subtracts a fixed penalty. A score ``s`` is
posterior odds ``2**s / N`` against a person drawn at random, so the confidence of the
best candidate ``i`` of a row is ``odds_i / (1 + sum_j odds_j)`` over all its candidates
— two equally good candidates share the confidence and neither passes. A row is linked
when its best confidence reaches the threshold (setting ``leak_match_threshold``,
default 0.99).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

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
# A full name and birth date that no other registry person shares identify a person as
# well as a phone number: their agreement is worth at least this many bits together.
W_UNIQUE_NAME_BIRTH = 28.0
FUZZY_MIN = 85.0  # token_sort_ratio from which two names agree (with a 4-bit discount)
FUZZY_DISCOUNT = 4.0
RARE_NAME = 20  # a name key shared by at most this many people is a block on its own
MAX_CANDIDATES_PER_DATE = 5_000


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
        for pid in processor_ids:
            dec = Pseudonymiser(secrets, pid)._cipher.decryptor()
            plain = dec.update(joined) + dec.finalize()
            # Pseudonymiser's block: subject_id (>Q), processor_id (>I), zero tag (>I).
            arr = np.frombuffer(plain, dtype=np.dtype([("s", ">u8"), ("p", ">u4"), ("t", ">u4")]))
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


def _candidates(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"""
        CREATE OR REPLACE TABLE cand AS
        SELECT DISTINCT row_id, subject_id FROM (
            SELECT d.row_id, r.subject_id FROM dump d JOIN reg r ON d.email_n = r.email_n
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d JOIN reg r ON d.phone_n = r.phone_n
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d JOIN reg r ON d.ref_n = r.ref_n
            UNION ALL SELECT d.row_id, h.subject_id FROM dump d JOIN pseudo_hits h ON d.pseudonym
                = h.pseudonym
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d JOIN reg r
                ON d.name_key = r.name_key AND d.birth_date = r.birth_date
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d JOIN reg r
                ON d.native_key = r.native_key AND d.birth_date = r.birth_date
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d JOIN reg r
                ON d.name_key = r.native_key AND d.birth_date = r.birth_date
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d JOIN reg r
                ON d.name_key = r.name_key AND d.postal_code = r.postal_code
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d JOIN reg r
                ON d.family_key = r.family_key AND d.birth_date = r.birth_date
            UNION ALL SELECT d.row_id, r.subject_id FROM dump d
                JOIN (SELECT value FROM reg_freq WHERE kind = 'name' AND n <= {RARE_NAME}) f
                  ON d.name_key = f.value
                JOIN reg r ON r.name_key = d.name_key
        )
        """
    )
    # Rows with a name and a birth date but no candidate yet: block on the birth date,
    # keep pairs whose names are close.
    con.execute(
        f"""
        CREATE OR REPLACE TABLE fuzzy_pairs AS
        SELECT d.row_id, r.subject_id, d.name_key AS a, r.name_key AS b, r.native_key AS c
        FROM dump d JOIN reg r ON d.birth_date = r.birth_date
        WHERE d.name_key IS NOT NULL AND r.birth_freq <= {MAX_CANDIDATES_PER_DATE}
          AND d.row_id NOT IN (SELECT row_id FROM cand)
        """
    )
    pairs = con.execute(
        "SELECT row_id, subject_id, a, b, coalesce(c, '') FROM fuzzy_pairs"
    ).fetchall()
    if pairs:
        ids = np.array([(p[0], p[1]) for p in pairs], dtype=np.int64)
        a = [p[2] for p in pairs]
        score = np.maximum(
            cpdist(a, [p[3] for p in pairs], scorer=fuzz.token_sort_ratio, workers=1),
            cpdist(a, [p[4] for p in pairs], scorer=fuzz.token_sort_ratio, workers=1),
        )
        _wildcards(score, pairs, 2, (3, 4))
        keep = score >= FUZZY_MIN
        con.register("_fz", {"row_id": ids[keep, 0], "subject_id": ids[keep, 1]})
        con.execute("INSERT INTO cand SELECT row_id, subject_id FROM _fz")
        con.unregister("_fz")


def _wildcards(scores: Any, pairs: list[Any], a: int, targets: tuple[int, int]) -> None:
    """Names with letters lost to the encoding (``?``) agree when the rest fits exactly."""
    for i, p in enumerate(pairs):
        if "?" in p[a] and any(p[t] and wildcard_match(p[a], p[t]) for t in targets):
            scores[i] = max(scores[i], FUZZY_MIN)


def _name_similarity(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``name_sim(row_id, subject_id, version, sim)`` for pairs whose name keys differ."""
    pairs = con.execute(
        """SELECT c.row_id, r.subject_id, r.version, d.name_key, r.name_key,
                  coalesce(r.native_key, '')
           FROM cand c JOIN dump d USING (row_id) JOIN reg r USING (subject_id)
           WHERE d.name_key IS NOT NULL AND NOT d.given_only AND NOT d.family_only
             AND d.name_key <> r.name_key AND d.name_key IS DISTINCT FROM r.native_key"""
    ).fetchall()
    sims = np.zeros(len(pairs))
    if pairs:
        a = [p[3] for p in pairs]
        sims = np.maximum(
            cpdist(a, [p[4] for p in pairs], scorer=fuzz.token_sort_ratio, workers=1),
            cpdist(a, [p[5] for p in pairs], scorer=fuzz.token_sort_ratio, workers=1),
        )
        _wildcards(sims, pairs, 3, (4, 5))
    con.register(
        "_sim",
        {
            "row_id": np.array([p[0] for p in pairs], dtype=np.int64),
            "subject_id": np.array([p[1] for p in pairs], dtype=np.int64),
            "version": np.array([p[2] for p in pairs], dtype=np.int64),
            "sim": np.asarray(sims, dtype=np.float64),
        },
    )
    con.execute("CREATE OR REPLACE TABLE name_sim AS SELECT * FROM _sim")
    con.unregister("_sim")


def link(con: duckdb.DuckDBPyConnection, *, registry_size: int, threshold: float) -> None:
    """Tables ``scored`` (every candidate version) and ``links`` (best person per linked row)."""
    _candidates(con)
    _name_similarity(con)
    n = max(registry_size, 2)
    log_n = float(np.log2(n))
    con.execute(
        f"""
        CREATE OR REPLACE TABLE scored AS
        SELECT c.row_id, r.subject_id, r.version, r.valid_from, r.valid_to, r.is_canary,
          (CASE WHEN d.ref_n IS NULL OR r.ref_n IS NULL THEN 0
                WHEN d.ref_n = r.ref_n THEN {W_REF} ELSE -{P_REF} END)
        + (CASE WHEN d.email_n IS NULL OR r.email_n IS NULL THEN 0
                WHEN d.email_n = r.email_n THEN {W_EMAIL} ELSE -{P_EMAIL} END)
        + (CASE WHEN d.phone_n IS NULL OR r.phone_n IS NULL THEN 0
                WHEN d.phone_n = r.phone_n THEN {W_PHONE} ELSE -{P_PHONE} END)
        + (CASE WHEN d.pseudonym IS NULL THEN 0
                WHEN h.subject_id IS NOT NULL THEN {W_PSEUDONYM} ELSE -{P_PSEUDONYM} END)
        + (CASE WHEN d.name_key IS NULL THEN 0
                WHEN d.family_only THEN
                    CASE WHEN d.family_key = r.family_key
                         THEN {log_n} - log2(greatest(r.family_freq, 1))
                         ELSE -{P_NAME} END
                WHEN d.given_only THEN CASE WHEN d.name_key = r.given_key THEN 2 ELSE -{P_NAME} END
                WHEN d.name_key = r.name_key OR d.name_key = r.native_key OR d.native_key =
                    r.native_key
                    THEN {log_n} - log2(greatest(r.name_freq, 1))
                WHEN s.sim >= {FUZZY_MIN}
                    THEN {log_n} - log2(greatest(r.name_freq, 1)) - {FUZZY_DISCOUNT}
                ELSE -{P_NAME} END)
        + (CASE WHEN d.birth_date IS NULL OR r.birth_date IS NULL THEN 0
                WHEN d.birth_date = r.birth_date
                    THEN {log_n} - log2(greatest(r.birth_freq, 1))
                ELSE -{P_BIRTH} END)
        + (CASE WHEN r.name_birth_freq = 1 AND d.birth_date = r.birth_date
                 AND (d.name_key = r.name_key OR d.name_key = r.native_key)
                 THEN greatest(0, {W_UNIQUE_NAME_BIRTH} - ({log_n} - log2(greatest(r.name_freq, 1)))
                                  - ({log_n} - log2(greatest(r.birth_freq, 1))))
                 ELSE 0 END)
        + (CASE WHEN d.birth_date IS NOT NULL OR d.birth_year IS NULL OR r.birth_date IS NULL THEN 0
                WHEN d.birth_year = year(r.birth_date) THEN {W_YEAR} ELSE -{P_BIRTH} END)
        + (CASE WHEN d.department IS NULL OR r.postal_code IS NULL THEN 0
                WHEN starts_with(r.postal_code, d.department) THEN {W_DEPARTMENT} ELSE -{P_POSTAL}
                    END)
        + (CASE WHEN d.postal_code IS NULL OR r.postal_code IS NULL THEN 0
                WHEN d.postal_code = r.postal_code
                    THEN {log_n} - log2(greatest(r.postal_freq, 1))
                ELSE -{P_POSTAL} END)
        + (CASE WHEN d.address_n IS NULL THEN 0 WHEN d.address_n = r.address_n THEN 12 ELSE -2 END)
        + (CASE WHEN d.city_n IS NULL THEN 0 WHEN d.city_n = r.city_n THEN 3 ELSE -1 END)
        + (CASE WHEN d.nationality IS NULL THEN 0 WHEN d.nationality = r.nationality THEN 2 ELSE
            -{P_NATIONALITY} END)
        + (CASE WHEN d.birth_country IS NULL THEN 0 WHEN d.birth_country = r.birth_country THEN 2
            ELSE -{P_NATIONALITY} END)
        + (CASE WHEN d.sex IS NULL THEN 0 WHEN d.sex = r.sex THEN 0.5 ELSE -{P_SEX} END)
        + (CASE WHEN d.entry_date IS NULL THEN 0 WHEN d.entry_date = r.entry_date THEN 8 ELSE -3
            END)
        + (CASE WHEN d.cir_signed_on IS NULL THEN 0 WHEN d.cir_signed_on = r.cir_signed_on THEN 8
            ELSE -3 END)
        + (CASE WHEN d.residence_reason IS NULL THEN 0 WHEN d.residence_reason =
            lower(r.residence_reason) THEN 1 ELSE -1 END)
        + (CASE WHEN d.residence_status IS NULL THEN 0 WHEN d.residence_status =
            lower(r.residence_status) THEN 1 ELSE -1 END)
          AS score
        FROM cand c JOIN dump d USING (row_id) JOIN reg r ON r.subject_id = c.subject_id
        LEFT JOIN pseudo_hits h ON h.pseudonym = d.pseudonym AND h.subject_id = r.subject_id
        LEFT JOIN name_sim s ON s.row_id = c.row_id AND s.subject_id = r.subject_id AND s.version
            = r.version
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TABLE links AS
        WITH per_subject AS (
            SELECT row_id, subject_id, any_value(is_canary) AS is_canary, max(score) AS score
            FROM scored GROUP BY row_id, subject_id),
        odds AS (
            SELECT *, pow(2.0, least(score, 1000) - {log_n}) AS odds FROM per_subject),
        ranked AS (
            SELECT *, odds / (1 + sum(odds) OVER (PARTITION BY row_id)) AS confidence,
                   row_number() OVER (PARTITION BY row_id ORDER BY score DESC, subject_id) AS rank
            FROM odds)
        SELECT row_id, subject_id, is_canary, score, confidence FROM ranked
        WHERE rank = 1 AND confidence >= {float(threshold)}
        """
    )
