"""Normalisation of the leaked rows: stacked sources, parsed values, map tables joined."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from vigie.leaks.columns import Column
from vigie.leaks.normalize import build_dump
from vigie.leaks.sources import Reader


def _col(source: int, index: int, kind: str) -> Column:
    return Column(source=source, index=index, header=kind, kind=kind, via="header", share=1.0,
                  filled=1)  # fmt: skip


def test_two_sources_stack_in_order_with_their_values_normalised(tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text(
        "prenom;nom;tel;naissance\n"
        "Aïssatou; N'Diaye ;06 12 34 56 78;03/04/1990\n"
        "a;b;c;d;e\n"  # rejected: five fields
        "NDIAYE;AISSATOU;+33 (0)6 12 34 56 78;1990-04-03\n"
        "Jean Luc;Martin;0044 20 7946 0958;3 avril 1990\n",
        encoding="utf-8",
    )
    second = tmp_path / "b.csv"
    second.write_text(
        "nationalite,tel,arrivee\nFrance,33 (0)6 12 34 56 78,12/31/2019\nXX,,\n", encoding="utf-8"
    )
    con = duckdb.connect(":memory:")
    reader = Reader(con, tmp_path)
    sources = [*reader.read(first), *reader.read(second)]
    columns = [
        _col(0, 0, "given_name"),
        _col(0, 1, "family_name"),
        _col(0, 2, "phone"),
        _col(0, 3, "birth_date"),
        _col(1, 0, "nationality"),
        _col(1, 1, "phone"),
        _col(1, 2, "entry_date"),
    ]
    present = build_dump(con, sources, columns)
    assert present == ["phone", "given_name", "family_name", "birth_date", "nationality",
                       "entry_date"]  # fmt: skip
    rows = con.execute(
        "SELECT row_id, src, line, name_key, phone_n, birth_date, entry_date, nationality "
        "FROM dump "
        "ORDER BY row_id"
    ).fetchall()
    assert rows == [
        (1, 0, 2, "aissatou diaye n", "+33612345678", dt.date(1990, 4, 3), None, None),
        (2, 0, 4, "aissatou ndiaye", "+33612345678", dt.date(1990, 4, 3), None, None),
        (3, 0, 5, "jean luc martin", "+442079460958", dt.date(1990, 4, 3), None, None),
        # Birth dates are read day-first, entry dates month-first (31 > 12); the phone is
        # one the SQL fast path leaves to phonenumbers.
        (4, 1, 2, None, "+33612345678", None, dt.date(2019, 12, 31), "FRA"),
        (5, 1, 3, None, None, None, None, None),
    ]
    raw = con.execute(
        "SELECT row_id, family_name, family_name_t, phone, phone_n, birth_date_d, nationality_n "
        "FROM dump_raw ORDER BY row_id"
    ).fetchall()
    assert raw[0] == (1, "N'Diaye", "n diaye", "06 12 34 56 78", "+33612345678",
                      dt.date(1990, 4, 3), None)  # fmt: skip
    assert [r[0] for r in raw] == [1, 2, 3, 4, 5]
    con.close()
