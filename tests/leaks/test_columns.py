"""Column typing over a real DuckDB: kinds and how full each column is."""

from __future__ import annotations

from pathlib import Path

import duckdb

from vigie.leaks.columns import Vocabulary, infer_columns
from vigie.leaks.sources import Reader


def test_each_column_counts_its_non_blank_values(tmp_path: Path) -> None:
    con = duckdb.connect(":memory:")
    con.execute(
        """CREATE TABLE reg AS SELECT * FROM (VALUES
               ('work', 'valid', 'fr', 'A1', 'amina', 'cherkaoui', 'CIR-1'))
           t(residence_reason, residence_status, preferred_language, course_level,
             given_key, family_key, ref_n)"""
    )
    path = tmp_path / "leak.csv"
    path.write_text(
        "courriel;tel;note\n"
        "a@example.org;06 12 34 56 78;x\n"
        ";   ;y\n"  # an empty and a blank cell
        "b@example.org;;\n",
        encoding="utf-8",
    )
    sources = Reader(con, tmp_path).read(path)
    columns = infer_columns(con, sources, Vocabulary(con))
    assert [(c.header, c.kind, c.filled) for c in columns] == [
        ("courriel", "email", 2),
        ("tel", "phone", 1),
        ("note", "unknown", 2),
    ]
    con.close()
