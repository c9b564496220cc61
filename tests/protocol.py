"""What an engine's connections send to the database, counted by the driver itself.

SQLite reports every statement it runs (``set_trace_callback``, BEGIN and COMMIT
included); on PostgreSQL libpq's protocol trace shows every ``Execute`` and simple
``Query`` message the client sends, and every time it waits for the server's answer (a
round trip: on a 1 ms link, a millisecond each).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

_MESSAGE = re.compile(r"^F\s+\d+\s+(Execute|Query)\b(.*)$", re.MULTILINE)


@dataclass
class Sent:
    """What the engine's connections sent while a block ran."""

    statements: list[str] = field(default_factory=list)
    round_trips: int = 0
    """PostgreSQL: how many times the client waited for the server (each run of frontend
    messages followed by backend messages in libpq's protocol trace)."""


def round_trips(trace: str) -> int:
    """The runs of frontend (``F``) messages answered by backend (``B``) ones in a trace."""
    count, sending = 0, False
    for line in trace.splitlines():
        if line.startswith("F"):
            sending = True
        elif line.startswith("B") and sending:
            count += 1
            sending = False
    return count


@contextmanager
def counting(engine: Engine) -> Iterator[Sent]:
    """The statements (and on PostgreSQL the round trips) ``engine``'s connections send
    while the block runs."""
    sent = Sent()
    traces: list[Any] = []

    traced: list[Any] = []  # SQLite connections given the callback

    def trace_sqlite(dbapi: Any) -> None:
        dbapi.set_trace_callback(sent.statements.append)
        if not any(t is dbapi for t in traced):
            traced.append(dbapi)

    def on_begin(conn: Any) -> None:
        # A connection kept checked out (the gateway's writer, :mod:`vigie.gateway.writer`)
        # is seen at each transaction's start, before its BEGIN (``insert=True``).
        trace_sqlite(conn.connection.driver_connection)

    def on_checkout(dbapi: Any, _record: Any, _proxy: Any) -> None:
        if engine.dialect.name == "sqlite":
            trace_sqlite(dbapi)
        else:
            out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed at check-in)
            dbapi.pgconn.trace(out.fileno())
            dbapi.pgconn.set_trace_flags(1)  # PQTRACE_SUPPRESS_TIMESTAMPS
            traces.append((dbapi, out))

    def on_checkin(dbapi: Any, _record: Any) -> None:
        if engine.dialect.name == "sqlite":
            dbapi.set_trace_callback(None)
            return
        for conn, out in [t for t in traces if t[0] is dbapi]:
            conn.pgconn.untrace()
            out.seek(0)
            trace = out.read()
            out.close()
            sent.statements.extend(m.group(0) for m in _MESSAGE.finditer(trace))
            sent.round_trips += round_trips(trace)
            traces.remove((conn, out))

    sqlite = engine.dialect.name == "sqlite"
    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
    if sqlite:
        event.listen(engine, "begin", on_begin, insert=True)
    try:
        yield sent
    finally:
        event.remove(engine, "checkout", on_checkout)
        event.remove(engine, "checkin", on_checkin)
        if sqlite:
            event.remove(engine, "begin", on_begin)
            for dbapi in traced:
                dbapi.set_trace_callback(None)
