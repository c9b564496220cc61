"""JSON, JSON Lines and SQL dumps are streamed: read the same whatever the chunk and batch
sizes, long records and tuples cut out or refused clearly, never the file whole."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from vigie.errors import InvalidInput
from vigie.leaks import loading, streams
from vigie.leaks.sources import Reader
from vigie.leaks.sqldump import sql_rows
from vigie.leaks.streams import Utf8Stream, bounded_lines

PEOPLE = [
    {"nom": "Dupré", "prenom": "Zoë", "courriel": "zoe.dupre@example.org", "tel": "0612345678"},
    {"nom": "N'Diaye", "prenom": "Aïssatou", "courriel": "a.ndiaye@mail.example"},
    {"nom": "Œuvray", "prenom": "Hélène", "naissance": "1999-12-31", "tel": None},
    {"nom": "Martin; Jean", "prenom": 'Luc (dit "Lulu")', "courriel": "l@example.org"},
]


def _tables(
    tmp_path: Path, path: Path, *, max_line: int = 1_000_000
) -> tuple[Reader, list[tuple[str, list[str], list[tuple[object, ...]]]]]:
    """What the reader made of ``path``: per table, its name, headers and rows in order."""
    con = duckdb.connect()
    reader = Reader(con, tmp_path, max_line=max_line)
    found = reader.read(path)
    out = []
    for src in found:
        cols = ", ".join([f"c{i}" for i in range(len(src.headers))] + ["_line"])
        rows = con.execute(f"SELECT {cols} FROM {src.table} ORDER BY _line").fetchall()
        assert src.rows == len(rows)
        out.append((src.name, src.headers, rows))
    return reader, out


@pytest.fixture(params=[(1, 1), (7, 2), (1 << 20, 50_000)], ids=["1B-1row", "7B-2rows", "1MiB"])
def small_chunks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a byte or a few, batches of a row or two: every boundary gets crossed."""
    chunk, batch = request.param
    monkeypatch.setattr(streams, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(loading, "BATCH_ROWS", batch)


def test_json_array_read_whatever_the_chunks(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(PEOPLE, ensure_ascii=False, indent=1), encoding="utf-8")
    reader, [(_name, headers, rows)] = _tables(tmp_path, path)
    # Fields become columns as they first appear; a record without one reads NULL there.
    assert headers == ["nom", "prenom", "courriel", "tel", "naissance"]
    assert [r[:5] for r in rows] == [
        ("Dupré", "Zoë", "zoe.dupre@example.org", "0612345678", None),
        ("N'Diaye", "Aïssatou", "a.ndiaye@mail.example", None, None),
        ("Œuvray", "Hélène", None, None, "1999-12-31"),
        ("Martin; Jean", 'Luc (dit "Lulu")', "l@example.org", None, None),
    ]
    assert [r[5] for r in rows] == [1, 2, 3, 4]  # record numbers
    assert reader.rejected.count == 0


def test_json_object_takes_its_longest_list(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "export.json"
    doc = {"meta": {"n": 2}, "pays": [{"code": "FR"}], "data": PEOPLE, "fin": [1, 2]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    _reader, [(_name, headers, rows)] = _tables(tmp_path, path)
    assert headers[:3] == ["nom", "prenom", "courriel"] and len(rows) == len(PEOPLE)


def test_json_in_cp1252_and_a_single_object(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(json.dumps(PEOPLE[0], ensure_ascii=False).encode("cp1252"))
    _reader, [(_name, headers, rows)] = _tables(tmp_path, path)
    assert headers == ["nom", "prenom", "courriel", "tel"]
    assert rows == [("Dupré", "Zoë", "zoe.dupre@example.org", "0612345678", 1)]


def test_json_records_that_are_not_objects_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([PEOPLE[0], "Dupont", [1, 2], PEOPLE[1]]), encoding="utf-8")
    reader, [(_name, _headers, rows)] = _tables(tmp_path, path)
    assert [r[-1] for r in rows] == [1, 4]
    assert reader.rejected.count == 2
    assert {s["reason"] for s in reader.rejected.samples} == {"record is not an object"}


def test_a_json_record_past_the_limit_stops_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    big = {"nom": "Dupont", "notes": "x" * 300_000}
    path.write_text(json.dumps([PEOPLE[0], big, PEOPLE[1]]), encoding="utf-8")
    con = duckdb.connect()
    with pytest.raises(InvalidInput, match=r"huge\.json: record 2 is longer than \d+ bytes"):
        Reader(con, tmp_path, max_line=10_000).read(path)
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]


def test_json_cut_short_says_where(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    text = json.dumps(PEOPLE, indent=1)
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"cut\.json: invalid JSON near line \d+ \(after record"):
        Reader(duckdb.connect(), tmp_path).read(path)


def test_jsonl_line_by_line_whatever_the_chunks(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "dump.jsonl"
    lines = [json.dumps(p, ensure_ascii=False) for p in PEOPLE]
    lines.insert(2, '{"nom": "Broken", ')  # does not parse: rejected, the rest read
    lines.insert(3, "")  # blank: skipped, still counted as a line
    lines.append('{"nom": "Big", "n": 123456789012345678901234567890, "x": NaN}')
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    reader, [(_name, headers, rows)] = _tables(tmp_path, path)
    assert [r[-1] for r in rows] == [1, 2, 5, 6, 7]  # line numbers in the file
    assert rows[2][:2] == ("Œuvray", "Hélène")
    assert rows[4][0] == "Big" and rows[4][headers.index("n")] == "123456789012345678901234567890"
    assert reader.rejected.count == 1
    assert reader.rejected.samples[0]["line"] == 3


def test_a_long_jsonl_line_is_cut_out_and_the_rest_read(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "long.jsonl"
    long = json.dumps({"nom": "Long", "notes": "x" * 5_000})
    path.write_text("\n".join([json.dumps(PEOPLE[0]), long, json.dumps(PEOPLE[1])]) + "\n")
    reader, [(_name, _headers, rows)] = _tables(tmp_path, path, max_line=1_000)
    assert [r[-1] for r in rows] == [1, 3]
    assert reader.rejected.count == 1
    assert reader.rejected.samples[0]["line"] == 2
    assert "longer than 1000 characters" in reader.rejected.samples[0]["reason"]


MYSQL = """-- MySQL dump 10.13 (it's 'quoted'; not a statement)
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
DROP TABLE IF EXISTS `beneficiaires`;
CREATE TABLE `beneficiaires` (
  `id` int NOT NULL,
  `nom` varchar(100) DEFAULT ';',
  `prenom` varchar(100),
  `courriel` varchar(254),
  PRIMARY KEY (`id`)
) ENGINE=InnoDB;
LOCK TABLES `beneficiaires` WRITE;
INSERT INTO `beneficiaires` VALUES (1,'Dupr\\'e; Zoë','Zoë','zoe@example.org'),
(2,'N''Diaye',NULL,'a@example.org'),(3,'Line\\nbreak','x','c@example.org');
INSERT INTO `notes` (`id`, `texte`) VALUES (1, 'INSERT INTO `beneficiaires` VALUES (9)');
UPDATE `beneficiaires` SET nom = 'x;y' WHERE id = 1;
INSERT INTO `beneficiaires` VALUES (4,'Martin','Luc','l@example.org');
UNLOCK TABLES;
"""


def test_mysqldump_streamed_whatever_the_chunks(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "dump.sql"
    path.write_text(MYSQL, encoding="utf-8")
    reader, tables = _tables(tmp_path, path)
    assert [(name, headers) for name, headers, _rows in tables] == [
        ("dump.sql:beneficiaires", ["id", "nom", "prenom", "courriel"]),
        ("dump.sql:notes", ["id", "texte"]),
    ]
    assert tables[0][2] == [
        ("1", "Dupr'e; Zoë", "Zoë", "zoe@example.org", 12),
        ("2", "N'Diaye", None, "a@example.org", 13),
        ("3", "Line\nbreak", "x", "c@example.org", 13),
        ("4", "Martin", "Luc", "l@example.org", 16),
    ]
    assert tables[1][2] == [("1", "INSERT INTO `beneficiaires` VALUES (9)", 14)]
    assert reader.rejected.count == 0


def test_sql_malformed_and_long_tuples_are_rejected_and_reading_goes_on(
    tmp_path: Path, small_chunks: None
) -> None:
    dump = (
        "INSERT INTO t (a, b) VALUES ('x', 'y'), ('broken', );\n"
        f"INSERT INTO t (a, b) VALUES ('{'z' * 3000}', 'long');\n"
        "INSERT INTO t (a, b) VALUES ('p', 'q', 'r');\n"
        "INSERT INTO t (a, b) VALUES ('after', 'all');\n"
    )
    path = tmp_path / "bad.sql"
    path.write_text(dump, encoding="utf-8")
    reader, [(_name, _headers, rows)] = _tables(tmp_path, path, max_line=1_000)
    assert rows == [("x", "y", 1), ("after", "all", 4)]
    reasons = sorted(s["reason"] for s in reader.rejected.samples)
    assert reasons == [
        "3 values for 2 columns",
        "VALUES tuple longer than 1000 characters",
        "malformed VALUES tuple",
    ]
    assert sorted(s["line"] for s in reader.rejected.samples) == [1, 2, 3]


def test_pg_dump_copy_in_cp1252_whatever_the_chunks(tmp_path: Path, small_chunks: None) -> None:
    dump = (
        "SET client_encoding = 'WIN1252';\n"
        "COPY public.people (nom, prenom, tel) FROM stdin;\r\n"
        "Dupré\tZoë\t06 12 34 56 78\r\n"
        "Martin\t\\N\tbackslash \\\\ tab \\t end\r\n"
        "\\.\r\n"
    )
    path = tmp_path / "pg.sql"
    path.write_bytes(dump.encode("cp1252"))
    _reader, [(name, headers, rows)] = _tables(tmp_path, path)
    assert (name, headers) == ("pg.sql:people", ["nom", "prenom", "tel"])
    assert rows == [
        ("Dupré", "Zoë", "06 12 34 56 78", 3),
        ("Martin", None, "backslash \\ tab \t end", 4),
    ]


def test_sql_rows_hold_one_tuple_not_the_statement() -> None:
    """A 2,000-tuple INSERT read in 64-character chunks: no tuple is refused for length
    though the statement is over 20 times the bound (only each tuple must fit)."""
    statement = "INSERT INTO t VALUES " + ",".join(f"({i},'n{i}')" for i in range(2000)) + ";"
    chunks = [statement[i : i + 64] for i in range(0, len(statement), 64)]
    rejected: list[tuple[int, str, str]] = []
    rows = list(sql_rows(chunks, on_reject=lambda *r: rejected.append(r), max_statement=1_000))
    assert len(statement) > 20 * 1_000
    assert [r.values for r in rows[:2]] == [["0", "n0"], ["1", "n1"]] and len(rows) == 2000
    assert rejected == []


def test_bounded_lines_never_hold_a_long_line() -> None:
    long: list[tuple[int, str]] = []
    text = "a\n" + "x" * 100 + "\nb\r\nc"
    chunks = [text[i : i + 3] for i in range(0, len(text), 3)]
    got = list(bounded_lines(chunks, max_line=10, on_long=lambda n, e: long.append((n, e))))
    assert got == [(1, "a"), (3, "b"), (4, "c")]
    assert [n for n, _e in long] == [2]


def test_utf8_stream_re_encodes_and_counts_lines() -> None:
    stream = Utf8Stream(["é\n", "ü\nz"])
    got = b""
    while part := stream.read(1):
        got += part
    assert got.decode() == "é\nü\nz" and stream.lines == 3
