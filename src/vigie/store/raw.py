"""Hot statements on the driver's cursor, inside the session's own transaction.

Through SQLAlchemy a statement costs 20–100 µs (cache-key lookup, parameter and result
processing, events); on the driver's cursor about 1 µs. A gateway request runs a dozen
statements, so the gateway's and the audit trail's go to the DBAPI cursor of the
session's connection — the same transaction, the same locks — as a :class:`Statement`:

- the SQL is written once with ``?`` placeholders and turned into the driver's style
  (``%s`` for psycopg) the first time it runs on a dialect;
- parameters and result columns are converted by SQLAlchemy's own type processors
  (``bind_processor``/``result_processor``) for the column types given, so what is
  stored and read is exactly what the ORM stores and reads (dates as ISO text on SQLite,
  native on PostgreSQL);
- an ``IN`` list is written ``({list})`` and sized by :meth:`Statement.sized`;
- driver errors come out as SQLAlchemy's ``DBAPIError`` subclasses, as they would
  through SQLAlchemy, so callers handle one family of errors.

Only for fixed, hot statements: everything else goes through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from vigie.store import pipeline

Kind = TypeEngine[Any] | None
Processor = Callable[[Any], Any]
Call = tuple["Statement", Sequence[Any]]
"""A statement and its parameters, as :meth:`Cursor.together` takes them."""


class Statement:
    """SQL with ``?`` placeholders and the types of its parameters and result columns.

    ``params`` and ``columns`` give a SQLAlchemy type (or None: passed as is) for each
    placeholder and each selected column, in order; shorter tuples mean "the rest as is".
    A placeholder ``{list}`` stands for an ``IN`` list of untyped values, passed in its
    place among the parameters: :meth:`sized` gives the statement for ``n`` values.
    """

    __slots__ = ("_bound", "columns", "params", "sql")

    def __init__(self, sql: str, *, params: Sequence[Kind] = (), columns: Sequence[Kind] = ()):
        self.sql = sql
        self.params = tuple(params)
        self.columns = tuple(columns)
        self._bound: dict[str, _Bound] = {}

    def sized(self, n: int) -> Statement:
        """This statement with its ``{list}`` holding ``n`` placeholders (cached)."""
        return _sized(self, n)

    def bound(self, dialect: Dialect) -> _Bound:
        """The statement as the dialect's driver takes it (built once per dialect)."""
        found = self._bound.get(dialect.name)
        if found is None:
            found = self._bound[dialect.name] = _Bound(self, dialect)
        return found


@lru_cache(maxsize=2048)
def _sized(statement: Statement, n: int) -> Statement:
    if n < 1:
        raise ValueError("an IN list needs at least one value")
    before, found, after = statement.sql.partition("{list}")
    if not found:
        raise ValueError("the statement has no {list}")
    k = before.count("?")
    params = (*statement.params[:k], *([None] * n), *statement.params[k:])
    sql = before + ", ".join(["?"] * n) + after
    return Statement(sql, params=params, columns=statement.columns)


def _processors(
    kinds: Sequence[Kind], make: Callable[[TypeEngine[Any]], Processor | None]
) -> tuple[tuple[int, Processor], ...]:
    out = []
    for i, kind in enumerate(kinds):
        proc = make(kind) if kind is not None else None
        if proc is not None:
            out.append((i, proc))
    return tuple(out)


class _Bound:
    """A :class:`Statement` in one dialect: driver SQL and the processors that apply."""

    __slots__ = ("binders", "readers", "sql")

    def __init__(self, statement: Statement, dialect: Dialect) -> None:
        sql = statement.sql
        if dialect.paramstyle != "qmark":
            sql = sql.replace("%", "%%").replace("?", "%s")
        self.sql = sql
        # dialect_impl: the dialect's own variant of the type (e.g. SQLite's text DATE).
        self.binders = _processors(
            statement.params, lambda t: t.dialect_impl(dialect).bind_processor(dialect)
        )
        self.readers = _processors(
            statement.columns, lambda t: t.dialect_impl(dialect).result_processor(dialect, None)
        )

    def bind(self, values: Sequence[Any]) -> Sequence[Any]:
        if not self.binders:
            return values
        out = list(values)
        for i, proc in self.binders:
            out[i] = proc(out[i])
        return out

    def read(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        if not self.readers:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, proc in self.readers:
                values[i] = proc(values[i])
            out.append(tuple(values))
        return out


class Cursor:
    """The driver cursor of a SQLAlchemy connection, running :class:`Statement` objects."""

    __slots__ = ("_connection", "_cursor", "_driver", "_error", "dialect")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect
        driver = connection.connection.driver_connection
        assert driver is not None
        self._driver = driver
        self._cursor = driver.cursor()
        self._error: type[Exception] = self.dialect.loaded_dbapi.Error

    @property
    def connection(self) -> Connection:
        """The SQLAlchemy connection whose driver connection this cursor runs on."""
        return self._connection

    def together(self, calls: Sequence[Call]) -> list[list[tuple[Any, ...]]]:
        """Each statement's rows, the statements sent in one round trip where the driver
        can (psycopg's pipeline mode: the server runs them back to back); in order, one
        after the other, elsewhere. If one fails, the error is raised as :meth:`all`'s.

        On PostgreSQL, if they are the transaction's first statements, its ``BEGIN`` goes
        in the same round trip (:func:`vigie.store.pipeline.open_in_pipeline`)."""
        if self.dialect.name != "postgresql":
            return [self.all(statement, params) for statement, params in calls]
        bound = [(st.bound(self.dialect), params) for st, params in calls]
        values = [b.bind(params) for b, params in bound]  # before any BEGIN is decided
        begin = pipeline.open_in_pipeline(self._connection)
        if len(calls) < 2 and not begin:
            return [self.all(statement, params) for statement, params in calls]
        cursors = [self._driver.cursor() for _ in bound]
        sql = ""
        try:
            with self._driver.pipeline():
                if begin:
                    self._cursor.execute(b"BEGIN")
                for cur, (b, _), params in zip(cursors, bound, values, strict=True):
                    sql = b.sql
                    cur.execute(b.sql, params)
            return [b.read(cur.fetchall()) for cur, (b, _) in zip(cursors, bound, strict=True)]
        except self._error as exc:
            raise self._wrap(sql, (), exc) from exc
        finally:
            for cur in cursors:
                cur.close()

    def all(self, statement: Statement, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row the statement returns, converted by its column types."""
        bound = statement.bound(self.dialect)
        values = bound.bind(params)
        try:
            self._cursor.execute(bound.sql, values)
            rows = self._cursor.fetchall()
        except self._error as exc:
            raise self._wrap(bound.sql, values, exc) from exc
        return bound.read(rows)

    def one(self, statement: Statement, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row the statement returns (None if none)."""
        rows = self.all(statement, params)
        return rows[0] if rows else None

    def run(self, statement: Statement, params: Sequence[Any] = ()) -> None:
        """Execute a statement that returns nothing."""
        bound = statement.bound(self.dialect)
        values = bound.bind(params)
        try:
            self._cursor.execute(bound.sql, values)
        except self._error as exc:
            raise self._wrap(bound.sql, values, exc) from exc

    def many(self, statement: Statement, rows: Iterable[Sequence[Any]]) -> None:
        """Execute a statement that returns nothing once per parameter row."""
        bound = statement.bound(self.dialect)
        values = [bound.bind(r) for r in rows]
        if not values:
            return
        try:
            if len(values) == 1:  # psycopg runs executemany as a pipeline: a round trip more
                self._cursor.execute(bound.sql, values[0])
            else:
                self._cursor.executemany(bound.sql, values)
        except self._error as exc:
            raise self._wrap(bound.sql, values, exc) from exc

    def with_commit(
        self, statement: Statement, params: Sequence[Any], *, failure: pipeline.Failure
    ) -> None:
        """Execute a write that nothing later in the transaction reads back; on PostgreSQL
        it is sent with the transaction's ``COMMIT``, in one round trip
        (:func:`vigie.store.pipeline.send_with_commit`), and if it fails there the commit
        raises ``failure(error)``. Elsewhere it runs at once (errors as :meth:`run`'s)."""
        bound = statement.bound(self.dialect)
        values = bound.bind(params)
        if self.dialect.name == "postgresql" and pipeline.send_with_commit(
            self._connection, bound.sql, values, failure=failure
        ):
            return
        self.run(statement, params)

    def copy(self, statement: Statement, rows: Sequence[Sequence[Any]]) -> None:
        """Like :meth:`many` for a plain ``INSERT INTO t (columns) VALUES (...)``; on
        PostgreSQL, many rows go through ``COPY`` (about a third of the cost per row of
        psycopg's pipelined ``executemany``)."""
        if self.dialect.name != "postgresql" or len(rows) < 2:
            self.many(statement, rows)
            return
        bound = statement.bound(self.dialect)
        head = statement.sql[: statement.sql.index(" VALUES ")].removeprefix("INSERT INTO ")
        try:
            with self._cursor.copy(f"COPY {head} FROM STDIN") as out:
                for row in rows:
                    out.write_row(bound.bind(row))
        except self._error as exc:
            raise self._wrap(f"COPY {head}", (), exc) from exc

    def _wrap(self, sql: str, params: Any, exc: Exception) -> StatementError:
        return DBAPIError.instance(
            sql, params, exc, self._error, hide_parameters=True, dialect=self.dialect
        )


def int_array(values: Iterable[int]) -> str:
    """PostgreSQL's text form of an integer array (for ``?::bigint[]``): built by ``join``,
    about twenty times cheaper per element than the driver's array dumper."""
    return "{" + ",".join(map(str, values)) + "}"


def text_array(values: Iterable[str]) -> str:
    """PostgreSQL's text form of a text array (for ``?::text[]``), every element quoted."""
    quoted: dict[str, str] = {}  # batches repeat a few values many times
    out = []
    for value in values:
        q = quoted.get(value)
        if q is None:
            q = quoted[value] = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out.append(q)
    return "{" + ",".join(out) + "}"


_CURSOR = "vigie.store.raw.cursor"


def cursor_of(connection: Connection) -> Cursor:
    """The :class:`Cursor` of ``connection``'s driver connection, made once per driver
    connection (kept in its ``info``, which lives as long as that driver connection, pool
    check-ins included; a pooled connection serves one thread at a time): building one
    costs more than most hot statements."""
    found: Cursor | None = connection.info.get(_CURSOR)
    if found is None:
        found = connection.info[_CURSOR] = Cursor(connection)
    elif found._connection is not connection:
        # Same driver connection, a new checkout: the pipeline's BEGIN / COMMIT hooks and
        # the savepoint check must see this Connection's state, not a closed one's.
        found._connection = connection
    return found


_PINNED = "vigie.store.raw.pinned"


def cursor(session: Session) -> Cursor:
    """A driver cursor in ``session``'s current transaction (begun if need be): the one
    :func:`pin` gave it, else its connection's (``session.connection()``, some 10 µs of
    the session's machinery on every call)."""
    found: Cursor | None = session.info.get(_PINNED)
    if found is not None:
        return found
    return cursor_of(session.connection())


def pin(session: Session, connection: Connection) -> None:
    """Give ``session`` the cursor of ``connection`` for :func:`cursor`, for the session's
    life. Only for a session bound to ``connection`` and used within the one transaction
    that ``connection`` has begun (:class:`vigie.gateway.writer.WriterConnection`): the
    cursor is not looked up again, so the session must never move to another connection."""
    session.info[_PINNED] = cursor_of(connection)
