"""Reading leaked files into DuckDB: CSV, JSON, JSON Lines, SQL dumps and XLSX.

A dump is hostile input. Every reader here

- detects the format from the content (the extension is only a hint) and the encoding
  (:mod:`vigie.leaks.encodings`: BOM, strict UTF-8, then charset-normalizer; Western
  8-bit text is read as cp1252), and repairs mojibake;
- never holds a whole line it has not bounded: a line longer than ``MAX_LINE_CHARS`` is
  cut out of the working copy, counted and sampled as rejected;
- counts and samples every row it cannot parse (:class:`Rejected`) instead of dropping it;
- raises :class:`vigie.errors.InvalidInput` naming the file when it cannot be read at all
  (binary junk, an unknown container, invalid JSON, a record too long to hold).

Each readable table becomes a DuckDB table of VARCHAR columns ``c0..cN`` plus ``_line``
(the row's line or record number), described by a :class:`Source`. CSV goes through a
UTF-8 working copy in a private temporary directory (mode 0700) that DuckDB's parallel
reader scans; it is deleted when the analysis ends. JSON, JSON Lines and SQL dumps are
streamed whatever their size (:mod:`vigie.leaks.streams`): a JSON document through an
incremental parser (:mod:`ijson`) a record at a time, JSON Lines line by line, a SQL dump
statement by statement and tuple by tuple (:func:`vigie.leaks.sqldump.sql_rows`), their
rows appended to DuckDB in bounded batches (:class:`vigie.leaks.loading.TableLoader`).
"""

from __future__ import annotations

import bisect
import codecs
import csv
import datetime as dt
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson

from vigie.errors import InvalidInput
from vigie.leaks.encodings import detect_encoding, looks_binary, repair_text
from vigie.leaks.loading import TableLoader
from vigie.leaks.streams import Utf8Stream, bounded_lines, decoded_chunks

MAX_LINE_CHARS = 1_000_000
MAX_XLSX_BYTES = 512 * 1024 * 1024  # a workbook's shared strings are held in memory
MAX_COLUMNS = 2_000  # distinct fields of a JSON dump; records adding more are rejected
MAX_UNZIPPED_BYTES = 2 * 1024 * 1024 * 1024  # an XLSX's members, expanded
MAX_ZIP_RATIO = 200  # expanded / compressed for one member past 1 MiB: a zip bomb
SAMPLE_BYTES = 1 << 20
CHUNK_BYTES = 8 << 20
REJECT_SAMPLES = 20
EXCERPT_CHARS = 120
_DELIMITERS = ",;\t|"


@dataclass
class Rejected:
    """Rows a reader could not parse: how many, and a few samples (escaped on display)."""

    count: int = 0
    samples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *, file: str, line: int, reason: str, excerpt: str = "", count: int = 1) -> None:
        self.count += count
        if len(self.samples) < REJECT_SAMPLES:
            self.samples.append(
                {"file": file, "line": line, "reason": reason, "excerpt": excerpt[:EXCERPT_CHARS]}
            )


@dataclass
class Source:
    """One table read from a leaked file, loaded as DuckDB table ``table``."""

    file: str
    name: str  # file name, plus the table name for SQL dumps
    format: str
    encoding: str | None
    table: str
    headers: list[str]  # original column names (hostile text, escape on display)
    rows: int


def _excerpt(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text[:EXCERPT_CHARS])


def sniff_format(path: Path, sample: bytes, text: str) -> str:
    """``xlsx``, ``json``, ``jsonl``, ``sql`` or ``csv``, from the content first."""
    if sample.startswith(b"PK\x03\x04"):
        return "xlsx"
    head = text.lstrip()[:4096]
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        first = head.split("\n", 1)[0].strip()
        return "jsonl" if first.endswith("}") and "\n" in head.strip() else "json"
    if re.search(r"(?im)^\s*(INSERT\s+INTO|COPY\s+\S+.*FROM\s+stdin)", text[:SAMPLE_BYTES]):
        return "sql"
    if path.suffix.lower() in {".jsonl", ".ndjson"}:
        return "jsonl"
    return "csv"


def sniff_dialect(text: str) -> tuple[str, str]:
    """``(delimiter, quotechar)`` of a CSV sample: the delimiter giving the most rows the
    same number (at least two) of fields, quotes respected; more fields break ties."""
    lines = [ln for ln in text.splitlines()[:60] if ln.strip()][:50]
    best, best_score = ",", (-1.0, 0)
    for delim in _DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delim, quotechar='"')]
        except csv.Error:
            continue
        if not counts:
            continue
        mode = max(set(counts), key=lambda c: (counts.count(c), c))
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best, '"'


class Reader:
    """Loads leaked files into one DuckDB connection; collects rejected rows."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, workdir: Path, *, max_line: int = MAX_LINE_CHARS
    ) -> None:
        self.con = con
        self.workdir = workdir
        self.max_line = max_line
        self.rejected = Rejected()
        self.sources: list[Source] = []
        self.bytes_read = 0  # of the files given so far, for the progress of reading

    def read(self, path: Path) -> list[Source]:
        """Read one file; raise ``InvalidInput`` when it cannot be read at all."""
        if not path.is_file():
            raise InvalidInput(f"{path.name}: no such file")
        size = path.stat().st_size
        with path.open("rb") as f:
            sample = f.read(SAMPLE_BYTES)
        if not sample.strip():
            raise InvalidInput(f"{path.name}: the file is empty")
        if sample.startswith(b"PK\x03\x04"):
            fmt, encoding = "xlsx", None
        else:
            encoding = detect_encoding(sample)
            if encoding is None and not looks_binary(sample, "cp1252"):
                raise InvalidInput(
                    f"{path.name}: no text encoding reads this file sensibly (neither UTF-8 "
                    "nor any encoding the detector knows); nothing was read: convert it to "
                    "UTF-8 and analyse it again"
                )
            if encoding is None or looks_binary(sample, encoding):
                raise InvalidInput(
                    f"{path.name}: not a text, JSON, SQL or XLSX file (binary content)"
                )
            fmt = sniff_format(path, sample, sample.decode(encoding, errors="replace"))
        if fmt == "xlsx" and size > MAX_XLSX_BYTES:
            raise InvalidInput(
                f"{path.name}: XLSX workbook of {size} bytes is larger than "
                f"{MAX_XLSX_BYTES} bytes; export it to CSV"
            )
        before = len(self.sources)
        if fmt == "xlsx":
            self._read_xlsx(path)
            self.bytes_read += size
        else:
            assert encoding is not None
            read = {"csv": self._read_csv, "sql": self._read_sql, "json": self._read_json}
            read.get(fmt, self._read_jsonl)(path, encoding)
        if len(self.sources) == before:
            raise InvalidInput(f"{path.name}: no table found in this {fmt} file")
        return self.sources[before:]

    # -- loading ------------------------------------------------------------------------

    def _add_records(
        self,
        path: Path,
        name: str,
        fmt: str,
        encoding: str | None,
        headers: list[str],
        records: Iterable[tuple[int, list[Any]]],
    ) -> None:
        width = len(headers)
        loader = TableLoader(self.con, f"src{len(self.sources)}", width)
        for line, values in records:
            if len(values) != width:
                self.rejected.add(
                    file=path.name,
                    line=line,
                    reason=f"{len(values)} values for {width} columns",
                    excerpt=_excerpt(repr(values)),
                )
                continue
            loader.add(line, [_cell(v) for v in values])
        if loader.rows or headers:
            loader.flush()
            self.sources.append(
                Source(str(path), name, fmt, encoding, loader.table, headers, loader.rows)
            )

    # -- CSV ----------------------------------------------------------------------------

    def _read_csv(self, path: Path, encoding: str) -> None:
        work = self.workdir / f"work{len(self.sources)}.csv"
        first_lines: list[str] = []
        cut_lines: list[int] = []  # lines too long to copy, by their number in the file
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        carry, in_long, line_no = "", False, 0
        fd = os.open(work, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with path.open("rb") as src, os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            while True:
                chunk = src.read(CHUNK_BYTES)
                self.bytes_read += len(chunk)
                text = carry + decoder.decode(chunk, final=not chunk)
                if "\r" in text:
                    text = text.replace("\r\n", "\n")
                if not in_long and _lines_fit(text, self.max_line):
                    # The usual case: whole lines pass as one block, never split.
                    if chunk:
                        cut = text.rfind("\n") + 1
                        body, carry = text[:cut], text[cut:]
                    else:  # the last line gets its newline
                        body, carry = (text + "\n" if text[-1:] not in ("", "\n") else text), ""
                    line_no += body.count("\n")
                else:
                    parts = text.split("\n")
                    carry = parts.pop() if chunk else ""
                    if not chunk and parts and not parts[-1]:
                        parts.pop()  # the file ends with a newline
                    if in_long:
                        if not parts:  # still inside a rejected line: drop, stay bounded
                            carry = ""
                            if not chunk:
                                break
                            continue
                        parts.pop(0)  # the rejected line's tail
                        in_long = False
                    kept = []
                    for i, part in enumerate(parts):
                        if len(part) > self.max_line:
                            cut_lines.append(line_no + i + 1)
                            self.rejected.add(
                                file=path.name,
                                line=line_no + i + 1,
                                reason=f"line longer than {self.max_line} characters",
                                excerpt=_excerpt(part),
                            )
                        else:
                            kept.append(part)
                    line_no += len(parts)
                    body = "\n".join(kept) + "\n" if kept else ""
                if len(carry) > self.max_line:
                    line_no += 1
                    cut_lines.append(line_no)
                    self.rejected.add(
                        file=path.name,
                        line=line_no,
                        reason=f"line longer than {self.max_line} characters",
                        excerpt=_excerpt(carry),
                    )
                    carry, in_long = "", True
                if len(first_lines) < 60 and body:
                    wanted = 60 - len(first_lines)
                    first_lines.extend(body[:-1].split("\n", wanted)[:wanted])
                if body:
                    out.write(repair_text(body[:-1]))
                    out.write("\n")
                if not chunk:
                    break
        sample = repair_text("\n".join(first_lines)).lstrip("\ufeff")
        delimiter, quote = sniff_dialect(sample)
        header_row = next(csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar=quote), [])
        header_row = [h.lstrip("\ufeff") for h in header_row]
        has_header = looks_like_header(header_row)
        width = len(header_row)
        if width == 0 and cut_lines and not first_lines:
            work.unlink(missing_ok=True)
            lines = (
                "its only line is" if cut_lines == [1] else f"all its {len(cut_lines)} lines are"
            )
            raise InvalidInput(
                f"{path.name}: {lines} longer than {self.max_line} characters (setting "
                "leak_max_line_chars), cut out unread: nothing is left to analyse"
            )
        if width == 0:
            work.unlink(missing_ok=True)
            raise InvalidInput(f"{path.name}: no columns found")
        headers = header_row if has_header else [f"column {i + 1}" for i in range(width)]
        table = f"src{len(self.sources)}"
        columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
        rejects = f"rej{len(self.sources)}"
        self.con.execute(
            f"""CREATE TABLE {table} AS SELECT *
            FROM read_csv(?, delim=?, quote=?, escape=?, header=?, auto_detect=false,
                columns={{{columns}}}, ignore_errors=true, store_rejects=true,
                rejects_table='{rejects}', rejects_scan='{rejects}_scan',
                strict_mode=true, max_line_size={self.max_line * 4 + 16},
                null_padding=false, parallel=true)""",
            [str(work), delimiter, quote, quote, has_header],
        )
        # The rows keep the file's order: the k-th (rowid k - 1) is on line k (+ header).
        # Numbering them afterwards keeps the parallel reader out of a window function.
        self.con.execute(f"ALTER TABLE {table} ADD COLUMN _line BIGINT")
        self.con.execute(f"UPDATE {table} SET _line = rowid + ?", [2 if has_header else 1])
        # Accepted rows were numbered as if nothing was rejected: shift each past the
        # rejected lines before it (the k-th rejected line r_k shifts rows from r_k - k + 1).
        self.con.execute(
            f"""UPDATE {table} SET _line = _line + (
                    SELECT count(*) FROM (
                        SELECT line - row_number() OVER (ORDER BY line) + 1 AS t
                        FROM (SELECT DISTINCT line FROM {rejects})) r
                    WHERE r.t <= {table}._line)
                WHERE EXISTS (SELECT 1 FROM {rejects})"""
        )
        # Numbers so far count the working copy's lines; put back the long lines cut out
        # of it (the same shift, from the k-th cut line c_k on: c_k - k + 1).
        shifts = [c - k for k, c in enumerate(cut_lines)]
        if shifts:
            self.con.register("_cut", {"t": np.array(shifts, dtype=np.int64)})
            self.con.execute(
                f"""UPDATE {table} SET _line = _line + (
                        SELECT count(*) FROM _cut WHERE _cut.t <= {table}._line)"""
            )
            self.con.unregister("_cut")
        last_at = last_rejected = 0
        # DuckDB records one error per faulty column (a line missing four columns is four
        # errors): a line is one rejected row, whatever its number of errors.
        for line, error, excerpt in self.con.execute(
            f"""SELECT line, arg_min(error_type, column_idx), arg_min(csv_line, column_idx)
                FROM {rejects} GROUP BY line ORDER BY line"""
        ).fetchall():
            at = last_at = int(line or 0)
            last_rejected = at + bisect.bisect_right(shifts, at) if at else 0
            self.rejected.add(
                file=path.name,
                line=last_rejected,
                reason=str(error).lower(),
                excerpt=_excerpt(str(excerpt or "")),
            )
        self.con.execute(f"DROP TABLE {rejects}; DROP TABLE {rejects}_scan")
        # A quote opened and never closed takes the rest of the file into one value that
        # DuckDB rejects, and its reader does not resume: the lines after the last rejected
        # one, when no row was read past it, were not read. Count them, never drop them.
        got = self.con.execute(f"SELECT max(_line) FROM {table}").fetchall()
        last_row = int(got[0][0] or 0) if got else 0
        if last_rejected > last_row:
            lost = _lines_after(work, last_at)
            if lost > 0:
                self.rejected.add(
                    file=path.name,
                    line=last_rejected,
                    reason=f"the reader did not resume after line {last_rejected} (a quote "
                    f"never closed?): the {lost} lines after it were not read",
                    count=lost,
                )
        rows = self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
        work.unlink()
        self.sources.append(
            Source(
                str(path), path.name, "csv", encoding, table, headers, int(rows[0]) if rows else 0
            )
        )

    # -- JSON ---------------------------------------------------------------------------

    def _chunks(self, path: Path, encoding: str) -> Iterator[str]:
        def counted(n: int) -> None:
            self.bytes_read += n

        return decoded_chunks(path, encoding, on_bytes=counted)

    def _read_json(self, path: Path, encoding: str) -> None:
        """A JSON document: an array of records, or an object whose longest array is (two
        passes then: one to find it), or a single object; streamed by :mod:`ijson`."""
        import ijson

        prefix = "item"
        if _first_char(path, encoding) == "{":
            prefix = self._longest_array(path, encoding)
        stream = _Guarded(self._chunks(path, encoding), limit=4 * self.max_line + 16)
        records = _Records(self, path, "json", encoding)
        number = 0
        try:
            for number, obj in enumerate(ijson.items(stream, prefix, use_float=True), start=1):
                stream.since_mark = 0
                records.add(number, obj)
        except _TooLong:
            records.loader.drop()
            raise InvalidInput(
                f"{path.name}: record {number + 1} is longer than {stream.limit} bytes "
                "(setting leak_max_line_chars): nothing was read"
            ) from None
        except ijson.JSONError as exc:
            records.loader.drop()
            raise InvalidInput(
                f"{path.name}: invalid JSON near line {stream.lines} (after record {number}): "
                f"{_excerpt(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}"
            ) from None
        records.close()

    def _longest_array(self, path: Path, encoding: str) -> str:
        """The ijson prefix of the records of a JSON object: its longest array's items,
        else the object itself (one record)."""
        import ijson

        stream = _Guarded(decoded_chunks(path, encoding), limit=4 * self.max_line + 16)
        counts: dict[str, int] = {}
        item_prefixes: dict[str, str] = {}
        try:
            for prefix, event, _value in ijson.parse(stream, use_float=True):
                stream.since_mark = 0
                if event == "start_array" and "." not in prefix and prefix:
                    counts.setdefault(prefix, 0)
                    item_prefixes[prefix + ".item"] = prefix
                elif prefix in item_prefixes and event not in ("end_map", "end_array", "map_key"):
                    counts[item_prefixes[prefix]] += 1
        except _TooLong:
            raise InvalidInput(
                f"{path.name}: a value is longer than {stream.limit} bytes (setting "
                "leak_max_line_chars): nothing was read"
            ) from None
        except ijson.JSONError as exc:
            raise InvalidInput(
                f"{path.name}: invalid JSON near line {stream.lines}: "
                f"{_excerpt(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}"
            ) from None
        if not counts:
            return ""
        return max(counts, key=lambda k: counts[k]) + ".item"

    def _read_jsonl(self, path: Path, encoding: str) -> None:
        """JSON Lines, a line at a time; a line that does not parse is rejected."""
        records = _Records(self, path, "jsonl", encoding)

        def too_long(line: int, excerpt: str) -> None:
            self.rejected.add(
                file=path.name,
                line=line,
                reason=f"line longer than {self.max_line} characters",
                excerpt=_excerpt(excerpt),
            )

        chunks = self._chunks(path, encoding)
        for line_no, line in bounded_lines(chunks, max_line=self.max_line, on_long=too_long):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                try:  # what orjson refuses and Python reads (NaN, integers past 64 bits)
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    self.rejected.add(
                        file=path.name,
                        line=line_no,
                        reason=f"invalid JSON: {exc.msg}",
                        excerpt=_excerpt(line),
                    )
                    continue
            records.add(line_no, obj)
        records.close()

    # -- SQL ----------------------------------------------------------------------------

    def _read_sql(self, path: Path, encoding: str) -> None:
        """A SQL dump, statement by statement: a table per table with rows."""
        from vigie.leaks.sqldump import sql_rows

        tables: dict[str, tuple[TableLoader, list[str]]] = {}
        for row in sql_rows(
            self._chunks(path, encoding),
            on_reject=lambda line, reason, excerpt: self.rejected.add(
                file=path.name, line=line, reason=reason, excerpt=_excerpt(excerpt)
            ),
            max_statement=self.max_line,
        ):
            entry = tables.get(row.table)
            if entry is None:
                names = row.columns or [f"column {i + 1}" for i in range(len(row.values))]
                table = f"src{len(self.sources) + len(tables)}"
                entry = tables[row.table] = (TableLoader(self.con, table, len(names)), names)
            loader, names = entry
            if len(row.values) != len(names):
                self.rejected.add(
                    file=path.name,
                    line=row.line,
                    reason=f"{len(row.values)} values for {len(names)} columns",
                    excerpt=_excerpt(repr(row.values)),
                )
                continue
            loader.add(row.line, [None if v is None else repair_text(v) for v in row.values])
        for name, (loader, names) in tables.items():
            loader.flush()
            self.sources.append(
                Source(
                    str(path), f"{path.name}:{name}", "sql", encoding, loader.table, names,
                    loader.rows,
                )
            )  # fmt: skip

    # -- XLSX ---------------------------------------------------------------------------

    def _read_xlsx(self, path: Path) -> None:
        import zipfile

        from openpyxl import load_workbook

        _refuse_zip_bomb(path)
        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise InvalidInput(
                f"{path.name}: not a readable XLSX workbook ({type(exc).__name__})"
            ) from None
        try:
            for sheet in book.worksheets:
                rows = sheet.iter_rows(values_only=True)
                first = next(rows, None)
                if first is None:
                    continue
                header = [_cell(v) or "" for v in first]
                while header and not header[-1]:
                    header.pop()
                if not header:
                    continue
                has_header = looks_like_header(header)
                width = len(header)
                names = header if has_header else [f"column {i + 1}" for i in range(width)]

                def records(
                    rows: Iterator[tuple[Any, ...]] = rows,
                    first: tuple[Any, ...] = first,
                    has_header: bool = has_header,
                    width: int = width,
                ) -> Iterator[tuple[int, list[Any]]]:
                    if not has_header:
                        yield 1, list(first[:width])
                    for n, row in enumerate(rows, start=2):
                        values = list(row)
                        extra = values[width:]
                        if any(v not in (None, "") for v in extra):
                            yield n, values  # reported as a width mismatch
                            continue
                        values = values[:width] + [None] * (width - len(values))
                        if any(v not in (None, "") for v in values):
                            yield n, values

                self._add_records(
                    path, f"{path.name}:{sheet.title}", "xlsx", None, names, records()
                )
        finally:
            book.close()


_HEADER_HINT = re.compile(r"[@]|^\+?\d[\d\s./-]{5,}$")


def _refuse_zip_bomb(path: Path) -> None:
    """Raise ``InvalidInput`` before opening an archive whose members would expand past
    :data:`MAX_UNZIPPED_BYTES`, or one member past :data:`MAX_ZIP_RATIO` times its size.

    The sizes are those the archive declares; Python's ``zipfile`` stops a member at its
    declared size (and fails its CRC), so a lying header cannot expand further.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(
            f"{path.name}: not a readable XLSX workbook ({type(exc).__name__})"
        ) from None
    total = sum(m.file_size for m in members)
    if total > MAX_UNZIPPED_BYTES:
        raise InvalidInput(
            f"{path.name}: its members would expand to {total} bytes, past the "
            f"{MAX_UNZIPPED_BYTES} bytes triage opens (a zip bomb?); nothing was read"
        )
    for m in members:
        if m.file_size > 1 << 20 and m.file_size > MAX_ZIP_RATIO * max(m.compress_size, 1):
            raise InvalidInput(
                f"{path.name}: member {m.filename[:80]!r} would expand {m.file_size} bytes "
                f"from {m.compress_size} (more than {MAX_ZIP_RATIO}:1, a zip bomb?); "
                "nothing was read"
            )


def looks_like_header(row: list[str]) -> bool:
    """Whether a first row names columns rather than holding data."""
    from vigie.leaks.kinds import kind_from_header

    cells = [c.strip() for c in row if c and c.strip()]
    if not cells:
        return False
    if sum(kind_from_header(c) is not None for c in cells) >= max(1, len(cells) // 3):
        return True
    return not any(_HEADER_HINT.search(c) for c in cells)


def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not prefix:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _cell(value: Any) -> str | None:
    """A value as text for the VARCHAR tables (dates as ISO, containers as JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _lines_after(work: Path, line: int) -> int:
    """Lines of the working copy ``work`` after line ``line`` that hold something (each is
    at most ``max_line`` long: the long ones were cut out of it)."""
    count = 0
    with work.open(encoding="utf-8", newline="\n") as f:
        for number, text in enumerate(f, start=1):
            if number > line and text.strip():
                count += 1
    return count


def _lines_fit(text: str, limit: int) -> bool:
    """True when no line of ``text`` can be longer than ``limit`` characters: every aligned
    block of ``limit // 2`` characters holds a newline (a longer line would cover one).
    ``False`` only means that a long line is possible."""
    block = max(limit // 2, 1)
    return all(
        text.find("\n", at, at + block) != -1 for at in range(0, len(text) - block + 1, block)
    )


def _first_char(path: Path, encoding: str) -> str:
    """The first character of the file that is not blank (``""`` if none)."""
    for chunk in decoded_chunks(path, encoding):
        stripped = chunk.lstrip()
        if stripped:
            return stripped[0]
    return ""


class _TooLong(Exception):
    """A JSON record (or value) past the reader's limit: it is never held whole."""


class _Guarded(Utf8Stream):
    """A :class:`Utf8Stream` that stops once ``limit`` bytes were read since the reader
    last set ``since_mark`` to 0 (after each record): one record is never held past it."""

    def __init__(self, chunks: Iterable[str], *, limit: int) -> None:
        super().__init__(chunks)
        self.limit = limit
        self.since_mark = 0

    def read(self, size: int = -1) -> bytes:
        out = super().read(64 * 1024 if size < 0 else min(size, 64 * 1024))
        self.since_mark += len(out)
        if self.since_mark > self.limit + 64 * 1024:
            raise _TooLong
        return out


class _Records:
    """JSON records (objects, flattened one level) into one table, their fields becoming
    columns as they appear; anything else is rejected."""

    def __init__(self, reader: Reader, path: Path, fmt: str, encoding: str) -> None:
        self.reader, self.path, self.fmt, self.encoding = reader, path, fmt, encoding
        self.loader = TableLoader(reader.con, f"src{len(reader.sources)}")
        self.index: dict[str, int] = {}

    def add(self, line: int, obj: Any) -> None:
        if not isinstance(obj, dict):
            self._reject(line, "record is not an object", obj)
            return
        row = _flatten(obj)
        new = [k for k in row if k not in self.index]
        if new and len(self.index) + len(new) > MAX_COLUMNS:
            self._reject(line, f"more than {MAX_COLUMNS} distinct fields", obj)
            return
        for key in new:
            self.index[key] = len(self.index)
        if new:
            self.loader.widen(len(self.index))
        values: list[str | None] = [None] * len(self.index)
        for key, value in row.items():
            cell = _cell(value)
            values[self.index[key]] = None if cell is None else repair_text(cell)
        self.loader.add(line, values)

    def _reject(self, line: int, reason: str, obj: Any) -> None:
        excerpt = json.dumps(obj, ensure_ascii=False, default=str)[:EXCERPT_CHARS]
        self.reader.rejected.add(file=self.path.name, line=line, reason=reason,
                                 excerpt=_excerpt(excerpt))  # fmt: skip

    def close(self) -> None:
        """The table, as a source, if any record was read."""
        if not self.loader.rows:
            self.loader.drop()
            return
        self.loader.flush()
        headers = [repair_text(k) for k in self.index]
        self.reader.sources.append(
            Source(str(self.path), self.path.name, self.fmt, self.encoding, self.loader.table,
                   headers, self.loader.rows)
        )  # fmt: skip
