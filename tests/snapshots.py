"""A database written once per test process, then copied into each test's fresh database.

Some fixtures write the same rows for every test that uses them: the leak tests'
registry (1,500 people from ``synthesize``, their assignments, what each processor
received through the audit trail) took 4-13 s of set-up per test at load 10 on this
2-core machine, built ~60 times a run. A :class:`Snapshot` runs its ``build`` once per
database kind in a database of its own (the first time a test asks for it), and then
copies every row into the test's database — which ``tests.conftest`` made fresh and
empty, so the copy holds exactly what ``build`` would have written there:

- SQLite: SQLite's online backup, page by page, the whole file (``sqlite_stat1`` and the
  schema with it);
- PostgreSQL: ``INSERT … SELECT`` from the snapshot's schema, table by table, with foreign
  keys unchecked (``session_replication_role = replica``: the rows were consistent where
  they were written), and each sequence moved where the snapshot's stands.

What depends on an instance's secrets (a checkpoint's signature) is not in a snapshot:
the fixture adds it after the copy, with the test's own keys.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from sqlalchemy import Engine

from vigie.store.engine import make_engine

# A snapshot's tables and sequences (pg_schemas.TABLES, for a schema named here).
RELATIONS = """
select c.relname, c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = %(schema)s and c.relkind in ('r', 'S') order by c.relname
"""


class Snapshot:
    """What ``build(engine)`` writes into a fresh database, written once per kind.

    ``fresh(kind)`` gives the URL of a fresh database of that kind for the snapshot
    itself (``tests.conftest.fresh_database``), kept until :meth:`close`."""

    def __init__(
        self,
        build: Callable[[Engine], object],
        fresh: Callable[[str], AbstractContextManager[str]],
    ) -> None:
        self._build = build
        self._fresh = fresh
        self._stack = ExitStack()
        self._made: dict[str, str] = {}  # kind -> the SQLite file, or the PostgreSQL schema

    def restore(self, engine: Engine) -> None:
        """Copy the snapshot into ``engine``'s database (fresh, empty, same schema)."""
        kind = engine.dialect.name
        if kind not in self._made:
            self._made[kind] = self._make(kind)
        if kind == "sqlite":
            _copy_sqlite(self._made[kind], engine)
        else:
            _copy_postgresql(self._made[kind], engine)

    def _make(self, kind: str) -> str:
        url = self._stack.enter_context(self._fresh(kind))
        source = make_engine(url)
        try:
            self._build(source)
            if kind == "sqlite":
                return str(source.url.database)
            with source.connect() as conn:
                return str(conn.exec_driver_sql("select current_schema()").scalar_one())
        finally:
            source.dispose()  # SQLite: the last connection closed checkpoints the WAL

    def close(self) -> None:
        """Give back (drop) the snapshots' databases."""
        self._stack.close()
        self._made.clear()


def _copy_sqlite(path: str, engine: Engine) -> None:
    source = sqlite3.connect(path)
    raw = engine.raw_connection()
    try:
        target: Any = raw.driver_connection
        source.backup(target)
    finally:
        raw.close()
        source.close()


def _copy_postgresql(schema: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        relations = conn.exec_driver_sql(RELATIONS, {"schema": schema}).all()
        copy = [_copy_relation(schema, name, kind) for name, kind in relations]
        conn.exec_driver_sql(" ".join(copy))


def _copy_relation(schema: str, name: str, kind: str) -> str:
    if kind == "r":
        return f'INSERT INTO "{name}" OVERRIDING SYSTEM VALUE SELECT * FROM "{schema}"."{name}";'
    return f'SELECT setval(\'"{name}"\', last_value, is_called) FROM "{schema}"."{name}";'
