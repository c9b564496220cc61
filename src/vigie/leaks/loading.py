"""Rows streamed into a DuckDB table in bounded batches.

The readers of JSON, JSON Lines and SQL dumps (:mod:`vigie.leaks.sources`) parse a record
at a time and hand its cells here; :class:`TableLoader` keeps at most
:data:`BATCH_ROWS` rows or :data:`BATCH_CHARS` characters of them in Python before it
appends them to the table (VARCHAR columns ``c0..cN`` and ``_line``), so a dump of any
size is read within the memory bound: DuckDB holds the table, and spills it past its share.
Columns may be added as records reveal them (JSON records do not all have every key):
earlier rows read ``NULL`` there.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np

BATCH_ROWS = 50_000
BATCH_CHARS = 32 << 20  # of cell text held before a batch is appended


class TableLoader:
    """Appends rows of text cells to DuckDB table ``table`` a batch at a time."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, width: int = 0) -> None:
        self.con = con
        self.table = table
        self.width = width
        self.rows = 0  # appended to the table so far, and pending
        self._created = 0  # columns the table has (0: not created yet)
        self._columns: list[list[str | None]] = [[] for _ in range(width)]
        self._lines: list[int] = []
        self._chars = 0

    def widen(self, width: int) -> None:
        """Give the table ``width`` columns (never fewer); pending rows get ``None``."""
        pending = len(self._lines)
        while self.width < width:
            self._columns.append([None] * pending)
            self.width += 1

    def add(self, line: int, values: Sequence[str | None]) -> None:
        """One row, from line (or record) ``line``; fewer values than columns end in
        ``None``."""
        if len(values) > self.width:
            raise ValueError(f"{len(values)} values for {self.width} columns")
        for i, value in enumerate(values):
            self._columns[i].append(value)
            if value is not None:
                self._chars += len(value)
        for i in range(len(values), self.width):
            self._columns[i].append(None)
        self._lines.append(line)
        self.rows += 1
        if len(self._lines) >= BATCH_ROWS or self._chars >= BATCH_CHARS:
            self.flush()

    def flush(self) -> None:
        """Append the pending rows to the table (created at the first call)."""
        if not self._created:
            columns = ", ".join([*(f"c{i} VARCHAR" for i in range(self.width)), "_line BIGINT"])
            self.con.execute(f"CREATE TABLE {self.table} ({columns})")
            self._created = self.width
        while self._created < self.width:
            self.con.execute(f"ALTER TABLE {self.table} ADD COLUMN c{self._created} VARCHAR")
            self._created += 1
        if not self._lines:
            return
        data: dict[str, np.ndarray] = {
            f"c{i}": np.array(col, dtype=object) for i, col in enumerate(self._columns)
        }
        data["_line"] = np.array(self._lines, dtype=np.int64)
        self.con.register("_incoming", data)
        try:
            self.con.execute(f"INSERT INTO {self.table} BY NAME SELECT * FROM _incoming")
        finally:
            self.con.unregister("_incoming")
        self._columns = [[] for _ in range(self.width)]
        self._lines = []
        self._chars = 0

    def drop(self) -> None:
        """Forget the rows: the table is dropped (a file that turned out unreadable)."""
        self._columns, self._lines = [[] for _ in range(self.width)], []
        if self._created:
            self.con.execute(f"DROP TABLE IF EXISTS {self.table}")
