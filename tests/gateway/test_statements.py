"""How many statements a request sends to the database, counted by the driver itself.

SQLite reports every statement it runs (``set_trace_callback``, BEGIN and COMMIT
included); on PostgreSQL libpq's protocol trace shows every ``Execute`` and simple
``Query`` message the client sends. A request that grows a statement fails here first:
each one is a round trip on PostgreSQL and most of a read's cost on SQLite.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.gateway.conftest import World
from vigie.fingerprint.pseudonyms import Pseudonymiser

SUBJECTS = "/api/v1/subjects"
# The ceilings, per request kind and database. PostgreSQL (staged, as ``vigie serve``
# runs): BEGIN, key + contracts + rate count read (one statement), scope, the rate count
# (the processor's lock), the charge (one statement), the audit event, COMMIT. SQLite
# also chains the event in the request (head, event, head, served index: disclosures,
# receipts, fields) and charges in three statements; it reports each row of an
# ``executemany`` as a statement (the page of five: three new people in the ledger, five
# disclosures and five receipts).
CEILING = {
    ("postgresql", "read"): 7,
    ("postgresql", "page"): 7,
    ("sqlite", "read"): 14,
    ("sqlite", "page"): 24,
}


@contextmanager
def _counting(world: World) -> Iterator[list[str]]:
    """The statements the engine's connections send while the block runs."""
    sent: list[str] = []
    traces: list[Any] = []

    def on_checkout(dbapi: Any, _record: Any, _proxy: Any) -> None:
        if world.engine.dialect.name == "sqlite":
            dbapi.set_trace_callback(sent.append)
        else:
            out = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed at check-in)
            dbapi.pgconn.trace(out.fileno())
            dbapi.pgconn.set_trace_flags(1)  # PQTRACE_SUPPRESS_TIMESTAMPS
            traces.append((dbapi, out))

    def on_checkin(dbapi: Any, _record: Any) -> None:
        if world.engine.dialect.name == "sqlite":
            dbapi.set_trace_callback(None)
            return
        for conn, out in [t for t in traces if t[0] is dbapi]:
            conn.pgconn.untrace()
            out.seek(0)
            for line in out:
                m = re.match(r"F\s+\d+\s+(Execute|Query)\b(.*)", line)
                if m:
                    sent.append(m.group(0))
            out.close()
            traces.remove((conn, out))

    event.listen(world.engine, "checkout", on_checkout)
    event.listen(world.engine, "checkin", on_checkin)
    try:
        yield sent
    finally:
        event.remove(world.engine, "checkout", on_checkout)
        event.remove(world.engine, "checkin", on_checkin)


def test_a_read_and_a_page_send_few_statements(world: World) -> None:
    ids = world.people(5)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, world.processor_id("lingua"))
    staged = world.engine.dialect.name == "postgresql"  # as ``vigie serve`` runs
    api = world.api(staged=staged)
    assert api.get(f"{SUBJECTS}/{pseudo.encode(ids[0])}", token=token).status_code == 200
    kind = world.engine.dialect.name
    for request, path in (
        ("read", f"{SUBJECTS}/{pseudo.encode(ids[1])}"),
        ("page", f"{SUBJECTS}?limit=5"),
    ):
        with _counting(world) as sent:
            assert api.get(path, token=token).status_code == 200
        assert sent, "the driver reported no statement"
        assert len(sent) <= CEILING[kind, request], "\n".join(map(str, sent))
