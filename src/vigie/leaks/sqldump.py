"""Tables out of SQL dumps: ``INSERT`` statements (mysqldump, pg_dump --inserts) and
pg_dump ``COPY … FROM stdin`` blocks.

Only data is read; nothing is executed. Column names come from the statement's column
list, else from a ``CREATE TABLE`` earlier in the dump, else ``column N``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_IDENT = r"(?:`[^`]+`|\"[^\"]+\"|\[[^\]]+\]|[\w.]+)"
_INSERT = re.compile(
    rf"INSERT\s+(?:IGNORE\s+)?INTO\s+(?P<table>{_IDENT})\s*(?:\((?P<cols>[^)]*)\))?\s*VALUES\s*",
    re.IGNORECASE,
)
_COPY = re.compile(
    rf"^COPY\s+(?P<table>{_IDENT})\s*(?:\((?P<cols>[^)]*)\))?\s+FROM\s+stdin;?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_CREATE = re.compile(
    rf"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<table>{_IDENT})\s*\((?P<body>.*?)\)\s*[^,)]*;",
    re.IGNORECASE | re.DOTALL,
)
_TOKEN = re.compile(
    r"""\s*(?:
        '(?P<s>(?:[^'\\]|\\.|'')*)'      # quoted string, '' or backslash escapes
      | (?P<null>NULL)\b
      | (?P<num>[-+]?[\d.]+(?:[eE][-+]?\d+)?)
      | (?P<word>[A-Za-z_][\w]*(?:\([^()]*\))?)  # TRUE, FALSE, functions like now()
    )\s*(?P<sep>[,)])""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "Z": "\x1a"}
_COPY_ESCAPES = re.compile(r"\\(.)")

OnReject = Callable[[int, str, str], None]


@dataclass
class Table:
    """Rows of one table found in a dump."""

    name: str
    columns: list[str]
    rows: list[tuple[int, list[str | None]]] = field(default_factory=list)


def _unquote(ident: str) -> str:
    ident = ident.strip()
    if ident[:1] in '`"[':
        return ident[1:-1]
    return ident.split(".")[-1]


def _columns(spec: str) -> list[str]:
    return [_unquote(c) for c in spec.split(",") if c.strip()]


def _create_columns(body: str) -> list[str]:
    cols = []
    for part in re.split(r",\s*(?![^()]*\))", body):
        token = part.strip().split()
        if not token:
            continue
        if token[0].upper() in {
            "PRIMARY",
            "KEY",
            "UNIQUE",
            "CONSTRAINT",
            "INDEX",
            "FOREIGN",
            "CHECK",
            "FULLTEXT",
        }:
            continue
        cols.append(_unquote(token[0]))
    return cols


def _unescape(s: str) -> str:
    s = s.replace("''", "'")
    if "\\" not in s:
        return s
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), s, flags=re.DOTALL)


def _tuples(text: str, pos: int) -> Iterator[tuple[int, list[str | None] | None, int]]:
    """``(start, values or None if malformed, end)`` for each ``(…)`` after VALUES."""
    n = len(text)
    while pos < n:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or text[pos] != "(":
            return
        start = pos
        pos += 1
        values: list[str | None] = []
        ok = True
        while True:
            m = _TOKEN.match(text, pos)
            if m is None:
                ok = False
                break
            if m.group("s") is not None:
                values.append(_unescape(m.group("s")))
            elif m.group("null") is not None:
                values.append(None)
            elif m.group("num") is not None:
                values.append(m.group("num"))
            else:
                values.append(m.group("word"))
            pos = m.end()
            if m.group("sep") == ")":
                break
        if not ok:
            end = text.find(");", pos)
            end = n if end < 0 else end + 1
            yield start, None, end
            return
        yield start, values, pos


def parse_sql_dump(text: str, *, on_reject: OnReject) -> list[Table]:
    """Every table with data in ``text``; malformed tuples go to ``on_reject``."""
    declared = {
        _unquote(m.group("table")): _create_columns(m.group("body")) for m in _CREATE.finditer(text)
    }
    tables: dict[str, Table] = {}

    def table_for(name: str, cols: list[str] | None, width: int) -> Table:
        if name not in tables:
            names = cols or declared.get(name) or [f"column {i + 1}" for i in range(width)]
            tables[name] = Table(name, names)
        return tables[name]

    line_starts = [0]
    line_starts.extend(m.end() for m in re.finditer("\n", text))

    def line_of(pos: int) -> int:
        import bisect

        return bisect.bisect_right(line_starts, pos)

    for m in _INSERT.finditer(text):
        name = _unquote(m.group("table"))
        cols = _columns(m.group("cols")) if m.group("cols") else None
        for start, values, end in _tuples(text, m.end()):
            if values is None:
                on_reject(
                    line_of(start), "malformed VALUES tuple", text[start : min(end, start + 200)]
                )
                continue
            table = table_for(name, cols, len(values))
            table.rows.append((line_of(start), values))
    for m in _COPY.finditer(text):
        name = _unquote(m.group("table"))
        cols = _columns(m.group("cols")) if m.group("cols") else None
        pos = m.end() + 1
        line = line_of(pos)
        while pos < len(text):
            eol = text.find("\n", pos)
            eol = len(text) if eol < 0 else eol
            row = text[pos:eol]
            pos = eol + 1
            if row == "\\.":
                break
            fields: list[str | None] = [
                None
                if f == "\\N"
                else _COPY_ESCAPES.sub(lambda e: _ESCAPES.get(e.group(1), e.group(1)), f)
                for f in row.split("\t")
            ]
            table = table_for(name, cols, len(fields))
            table.rows.append((line, fields))
            line += 1
    return [t for t in tables.values() if t.rows]
