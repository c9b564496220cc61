"""The audit's hot statements run on the connection's kept driver cursor
(:func:`vigie.store.raw.cursor_of`), not on a driver cursor built per call.

Counted by the drivers themselves: every driver cursor a connection makes, less those
SQLAlchemy made for its own statements, is one that Vigie's raw statements made."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from tests.audit.test_sequencer import _read
from vigie.audit.actions import Action
from vigie.audit.seals import REGISTRY, Sealing
from vigie.audit.sequencer import integrate
from vigie.audit.trail import stage


@dataclass
class Made:
    """Driver cursors made, and those SQLAlchemy ran its own statements on."""

    driver: int = 0
    sqlalchemy: int = 0

    def raw(self) -> int:
        return self.driver - self.sqlalchemy


@contextmanager
def counting_cursors(engine: Engine) -> Iterator[Made]:
    """Count the driver cursors of ``engine``'s connections opened inside the block."""
    made = Made()
    engine.dispose()  # new connections, made with the counting hooks

    class SqliteCursor(sqlite3.Cursor):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            made.driver += 1

    class SqliteCounting(sqlite3.Connection):
        def cursor(self, factory: Any = SqliteCursor) -> Any:
            return super().cursor(factory)

    def do_connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        if engine.dialect.name == "sqlite":
            cparams["factory"] = SqliteCounting

    def connect(dbapi: Any, _record: Any) -> None:
        if engine.dialect.name == "postgresql":
            base = dbapi.cursor_factory

            class PgCounting(base):  # type: ignore[misc, valid-type]
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    super().__init__(*args, **kwargs)
                    made.driver += 1

            dbapi.cursor_factory = PgCounting

    def before(_conn: Any, cursor: Any, *_: Any) -> None:
        if not getattr(cursor, "vigie_test_seen", False):  # a cursor runs several
            cursor.vigie_test_seen = True
            made.sqlalchemy += 1

    event.listen(engine, "do_connect", do_connect)
    event.listen(engine, "connect", connect)
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield made
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "connect", connect)
        event.remove(engine, "do_connect", do_connect)
        engine.dispose()


def test_the_sequencer_takes_its_batches_on_the_kept_cursor(engine: Engine) -> None:
    """Once a transaction has run one integration, nine more (each locking the chain
    head, probing the pending events and taking them) make no driver cursor: they run
    on the one the first made."""
    with Session(engine) as s, s.begin():
        stage(s, [_read(1, i) for i in range(10)])
    with counting_cursors(engine) as made, Session(engine) as s:
        assert integrate(s, limit=1) == 1
        first = made.raw()
        for _ in range(9):
            assert integrate(s, limit=1) == 1
        s.commit()
        assert made.raw() == first


def test_a_sealed_write_checks_and_records_its_seals_on_the_kept_cursor(
    engine: Engine,
) -> None:
    """Once a transaction has run one sealed write, each further one (the trail's lock,
    the seal heads read, the event appended, the new heads written) makes two driver
    cursors only: those that read its bucket's rows to digest them, before and after
    (:func:`vigie.audit.seals.bucket_digest`)."""
    with counting_cursors(engine) as made, Session(engine) as s:

        def write(i: int) -> None:
            sealing = Sealing(s)
            sealing.check(REGISTRY, REGISTRY.keys([i + 1]))
            sealing.append(action=Action.REGISTRY_POPULATION, actor="system:test")

        write(0)
        first = made.raw()
        for i in range(1, 10):
            write(i)
        s.commit()
        assert made.raw() - first == 2 * 9
