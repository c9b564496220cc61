"""Tables out of SQL dumps: ``INSERT`` statements (mysqldump, pg_dump --inserts) and
pg_dump ``COPY … FROM stdin`` blocks.

Only data is read; nothing is executed. Column names come from the statement's column
list, else from a ``CREATE TABLE`` earlier in the dump, else ``column N``.

:func:`sql_rows` reads a dump of any size statement by statement, and an ``INSERT``
tuple by tuple, from decoded chunks of text: it holds one chunk and at most one tuple,
``COPY`` line or ``CREATE TABLE`` of ``max_statement`` characters (a longer tuple or line
is rejected and skipped; everything else it skips is never held whole).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

_IDENT = r"(?:`[^`]+`|\"[^\"]+\"|\[[^\]]+\]|[\w.]+)"
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


# -- reading, streamed ---------------------------------------------------------------------

_INSERT_HEAD = re.compile(
    rf"INSERT\s+(?:IGNORE\s+)?INTO\s+(?P<table>{_IDENT})\s*(?:\((?P<cols>[^)]*)\))?\s*VALUES",
    re.IGNORECASE,
)
_COPY_HEAD = re.compile(
    rf"COPY\s+(?P<table>{_IDENT})\s*(?:\((?P<cols>[^)]*)\))?\s+FROM\s+stdin[ \t]*;?[ \t]*\r?\n",
    re.IGNORECASE,
)
_CREATE_HEAD = re.compile(
    rf"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<table>{_IDENT})", re.IGNORECASE
)
_SPACE = re.compile(r"[\s,]*")
_PLAIN_STOP = re.compile(r"[;'\"`]")
_QUOTED_STOP = re.compile(r"['\\]")
HEAD_CHARS = 64 * 1024  # of a statement's head looked at to know what it is


@dataclass(frozen=True)
class Row:
    """One row of a dump: its table, the column names the dump gives (or ``None``), the
    line it starts on and its values."""

    table: str
    columns: list[str] | None
    line: int
    values: list[str | None]


class _Text:
    """A window on streamed text: ``buf[pos:]`` is what is left to read; ``line`` is the
    line number at ``pos``."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self._chunks = iter(chunks)
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False
        self.refills = 0  # chunks read so far

    def more(self) -> bool:
        """Read one more chunk (dropping what was read); ``False`` at the end."""
        if self.eof:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        self.refills += 1
        return True

    def ensure(self, n: int) -> None:
        """At least ``n`` characters ahead, unless the text ends first."""
        while len(self.buf) - self.pos < n and self.more():
            pass

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def skip_space(self) -> bool:
        """Skip blanks and comments; ``False`` at the end of the text."""
        while True:
            self.ensure(2)
            m = _SPACE.match(self.buf, self.pos)
            self.advance(m.end() if m else self.pos)
            if self.pos >= len(self.buf):
                if not self.more():
                    return False
                continue
            head = self.buf[self.pos : self.pos + 2]
            if head == "--" or head[:1] == "#":
                self.skip_to("\n")
            elif head == "/*":
                self.skip_to("*/")
            else:
                return True

    def skip_to(self, end: str) -> None:
        """Past the next ``end`` (or to the end of the text), never holding more than a
        chunk."""
        while True:
            at = self.buf.find(end, self.pos)
            if at >= 0:
                self.advance(at + len(end))
                return
            keep = max(len(self.buf) - len(end) + 1, self.pos)
            self.advance(keep)
            if not self.more():
                self.advance(len(self.buf))
                return

    def skip_statement(self) -> None:
        """Past the next ``;`` outside quotes (or to the end of the text)."""
        quote = ""
        while True:
            if quote == "'":
                m = _QUOTED_STOP.search(self.buf, self.pos)
            elif quote:
                at = self.buf.find(quote, self.pos)
                m = None
                if at >= 0:
                    self.advance(at + 1)
                    quote = ""
                    continue
            else:
                m = _PLAIN_STOP.search(self.buf, self.pos)
            if m is None:
                self.advance(len(self.buf))
                if not self.more():
                    return
                continue
            ch = m.group()
            if ch in "\\'" and quote == "'" and m.end() >= len(self.buf):
                self.advance(m.start())  # an escape or a doubled quote may straddle chunks
                if not self.more():
                    return
                self.ensure(2)
                continue
            if ch == "\\":
                self.advance(min(m.end() + 1, len(self.buf)))
            elif ch == "'" and quote == "'":
                if self.buf[m.end() : m.end() + 1] == "'":
                    self.advance(m.end() + 1)  # '' inside a string
                else:
                    self.advance(m.end())
                    quote = ""
            elif ch == ";":
                self.advance(m.end())
                return
            else:
                self.advance(m.end())
                quote = ch


def sql_rows(chunks: Iterable[str], *, on_reject: OnReject, max_statement: int) -> Iterator[Row]:
    """Every row of the ``INSERT`` statements and ``COPY`` blocks of a dump streamed as
    ``chunks``, in the dump's order; malformed tuples and longer than ``max_statement``
    characters go to ``on_reject`` (line, reason, excerpt)."""
    text = _Text(chunks)
    declared: dict[str, list[str]] = {}
    while text.skip_space():
        text.ensure(HEAD_CHARS)
        buf, pos = text.buf, text.pos
        if m := _INSERT_HEAD.match(buf, pos):
            name = _unquote(m.group("table"))
            cols = _columns(m.group("cols")) if m.group("cols") else None
            text.advance(m.end())
            yield from _insert_rows(text, name, cols or declared.get(name), on_reject,
                                    max_statement)  # fmt: skip
        elif m := _COPY_HEAD.match(buf, pos):
            name = _unquote(m.group("table"))
            cols = _columns(m.group("cols")) if m.group("cols") else None
            text.advance(m.end())
            yield from _copy_rows(text, name, cols or declared.get(name), on_reject,
                                  max_statement)  # fmt: skip
        elif m := _CREATE_HEAD.match(buf, pos):
            text.ensure(max_statement)
            start, refills = text.pos, text.refills
            text.skip_statement()
            if text.refills == refills:  # whole within the window (else not a table's)
                statement = text.buf[start : text.pos]
                opened, closed = statement.find("("), statement.rfind(")")
                if 0 < opened < closed:
                    name = _unquote(m.group("table"))
                    declared[name] = _create_columns(statement[opened + 1 : closed])
        else:
            text.skip_statement()


def _insert_rows(
    text: _Text, name: str, cols: list[str] | None, on_reject: OnReject, max_statement: int
) -> Iterator[Row]:
    """The tuples of one ``INSERT … VALUES``, read one at a time; ``text`` left past its
    ``;``."""
    while True:
        text.ensure(2)
        m = _SPACE.match(text.buf, text.pos)
        text.advance(m.end() if m else text.pos)
        if text.pos >= len(text.buf) and not text.more():
            return
        ch = text.buf[text.pos]
        if ch == ";":
            text.advance(text.pos + 1)
            return
        if ch != "(":  # ON DUPLICATE KEY UPDATE…, RETURNING…: not data
            text.skip_statement()
            return
        values, end = _tuple_at(text.buf, text.pos)
        while values is None and not text.eof and len(text.buf) - text.pos < max_statement:
            # Cut by the chunk's end, or malformed: read on (bounded), then decide.
            text.more()
            values, end = _tuple_at(text.buf, text.pos)
        # Past the bound: a tuple read whole but longer, or a string still open at the
        # end of the window (a value longer than the bound, or a quote never closed).
        too_long = (
            end - text.pos > max_statement
            if values is not None
            else not text.eof and text.buf[end:].lstrip()[:1] == "'"
        )
        if values is None or too_long:
            # The same whatever the chunks: the rest of the statement is skipped, to the
            # first ");" after the tuple's start.
            tail = text.buf[text.pos : text.pos + 200]
            reason = (
                f"VALUES tuple longer than {max_statement} characters"
                if too_long
                else "malformed VALUES tuple"
            )
            on_reject(text.line, reason, tail)
            text.skip_to(");")
            return
        yield Row(name, cols, text.line, values)
        text.advance(end)


def _tuple_at(buf: str, pos: int) -> tuple[list[str | None] | None, int]:
    """The values of the ``(…)`` at ``pos`` and where it ends; ``None`` if it does not
    parse whole within ``buf``."""
    values: list[str | None] = []
    pos += 1
    while True:
        m = _TOKEN.match(buf, pos)
        if m is None:
            return None, pos
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
            return values, pos


def _copy_rows(
    text: _Text, name: str, cols: list[str] | None, on_reject: OnReject, max_statement: int
) -> Iterator[Row]:
    """The lines of one ``COPY … FROM stdin`` block, up to its ``\\.``."""
    while True:
        eol = text.buf.find("\n", text.pos)
        while eol < 0 and len(text.buf) - text.pos <= max_statement and text.more():
            eol = text.buf.find("\n", text.pos)
        if eol < 0 and len(text.buf) - text.pos > max_statement:
            on_reject(text.line, f"COPY line longer than {max_statement} characters",
                      text.buf[text.pos : text.pos + 200])  # fmt: skip
            text.skip_to("\n")
            continue
        end = len(text.buf) if eol < 0 else eol
        row = text.buf[text.pos : end].removesuffix("\r")
        line = text.line
        text.advance(min(end + 1, len(text.buf)))
        if row == "\\." or (eol < 0 and not row):
            return
        fields: list[str | None] = [
            None
            if f == "\\N"
            else _COPY_ESCAPES.sub(lambda e: _ESCAPES.get(e.group(1), e.group(1)), f)
            for f in row.split("\t")
        ]
        yield Row(name, cols, line, fields)
