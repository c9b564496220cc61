"""Bulk paths into the database: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Both write on the raw DBAPI connection of the caller's SQLAlchemy connection, so the
rows are part of the caller's transaction (all or nothing). Values are given as the
text the column stores: dates ``YYYY-MM-DD``, timestamps from epoch seconds (UTC), the
way SQLAlchemy itself writes them on each backend, so the ORM reads them back unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, Table

from vigie.store.engine import SQLITE_BUSY_TIMEOUT_MS

_DAY0 = date(1900, 1, 1)
_DAYS = 73_050  # 1900-01-01 .. 2099-12-31
_EPOCH_OFFSET = (date(1970, 1, 1) - _DAY0).days
_BULK_CACHE_KIB = 512 * 1024  # page cache while bulk loading
_BULK_MMAP_BYTES = 8 << 30  # reads through a memory map while bulk loading


@cache
def _iso_days() -> NDArray[np.object_]:
    return np.array([(_DAY0 + timedelta(days=i)).isoformat() for i in range(_DAYS)], object)


@cache
def _clock() -> NDArray[np.object_]:
    return np.array(
        [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)], object
    )


def iso_dates(days: NDArray[np.int64]) -> list[str]:
    """Day numbers (days since 1970-01-01) as ISO dates."""
    return _iso_days()[days + _EPOCH_OFFSET].tolist()  # type: ignore[no-any-return]


def timestamps(seconds: NDArray[np.int64], *, sqlite: bool) -> list[str]:
    """Epoch seconds as the text a UTC timestamp column stores on SQLite or PostgreSQL."""
    days = _iso_days()[seconds // 86_400 + _EPOCH_OFFSET].tolist()
    clock = _clock()[seconds % 86_400].tolist()
    suffix = ".000000" if sqlite else "+00"
    return [f"{d} {c}{suffix}" for d, c in zip(days, clock, strict=True)]


@dataclass(frozen=True)
class Rows:
    """Rows ready for :meth:`BulkWriter.insert`: one list per column."""

    table: Table
    columns: tuple[str, ...]
    values: list[list[Any]]

    def __len__(self) -> int:
        return len(self.values[0]) if self.values else 0

    def tuples(self) -> Iterator[tuple[Any, ...]]:
        """The rows as tuples, made as the writer takes them: ``zip`` then reuses one
        tuple for every row instead of allocating a row's tuple each (a list of them cost
        more CPU than the insert saved by building it on another thread)."""
        return zip(*self.values, strict=True)


class BulkWriter:
    """Fast inserts into one database, inside the transaction of ``conn``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sqlite = conn.dialect.name == "sqlite"
        self._raw: Any = conn.connection.driver_connection

    def write(self, rows: Rows) -> None:
        """Insert prepared :class:`Rows`."""
        if len(rows):
            self.insert(rows.table, rows.columns, rows.tuples())

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` (tuples in ``columns`` order) into ``table``."""
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            cur = self._raw.cursor()
            cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
            cur.close()
            return
        with self._raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)

    @contextmanager
    def without_indexes(
        self, tables: Sequence[Table], *, keep: Collection[str] = ()
    ) -> Iterator[Callable[[str], None]]:
        """Drop the secondary indexes of (empty) ``tables``; rebuild them at the end.

        Building an index once over sorted keys is much faster than maintaining it row
        by row. Indexes named in ``keep`` stay (for rows inserted in index order); the
        yielded ``build(name)`` builds one early, for a statement that needs it. The drop
        is part of the transaction: if the load fails, the rollback brings them back.
        """
        pending = {str(ix.name): ix for t in tables for ix in t.indexes if ix.name not in keep}
        for ix in pending.values():
            ix.drop(self.conn)

        def build(name: str) -> None:
            pending.pop(name).create(self.conn)

        yield build
        for ix in pending.values():
            ix.create(self.conn)


@contextmanager
def bulk_mode(conn: Connection, *, spill: bool = False) -> Iterator[None]:
    """On SQLite, tune the connection for one big load; restore it on exit.

    Enter before the transaction begins (SQLite refuses these changes inside one):

    - ``journal_mode=TRUNCATE`` instead of WAL, when no other connection holds the
      database: a load into fresh tables then writes each page once, instead of once to
      the WAL and again at checkpoint. The rollback journal keeps the load all or nothing
      (it only needs the few pages that existed before). With another connection open
      the database stays in WAL mode, which is just slower;
    - ``synchronous=OFF``: no fsync while loading — a crash loses the load, never the
      consistency of what was there;
    - ``foreign_keys=OFF``: the loader writes ids it allocated itself, consistent by
      construction, and per-row parent look-ups would double the cost;
    - a 512 MiB page cache, in-memory temporary sorts and two sorter threads (index
      builds);
    - reads through a memory map of up to 8 GiB (the assignments, index builds and
      seals read what the load wrote: 15-20 % less CPU for the seals' scans at a million
      people than copying each page into the page cache).

    ``spill``: temporary sorts in files instead, for builds whose index sorts would take
    gigabytes of memory (tens of millions of people).
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw: Any = conn.connection.driver_connection
    raw.execute("PRAGMA busy_timeout=0")
    with suppress(sqlite3.OperationalError):  # another connection holds it: stay in WAL
        raw.execute("PRAGMA journal_mode=TRUNCATE")
    raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    for pragma in ("synchronous=OFF", "foreign_keys=OFF", f"cache_size=-{_BULK_CACHE_KIB}",
                   f"temp_store={'FILE' if spill else 'MEMORY'}", "threads=2",
                   f"mmap_size={_BULK_MMAP_BYTES}"):  # fmt: skip
        raw.execute(f"PRAGMA {pragma}")
    try:
        yield
    finally:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                       "cache_size=-2000", "temp_store=DEFAULT", "threads=0",
                       "mmap_size=0"):  # fmt: skip
            raw.execute(f"PRAGMA {pragma}")
