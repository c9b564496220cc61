"""What /ready checks on a real store: it answers, the audit head can be locked, secrets."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import Engine, event, text

from vigie.ops.readiness import audit_writable, store_checks
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.engine import is_sqlite, make_engine

PATIENT_MS = 120_000  # a busy timeout no probe may wait out


def test_a_fresh_instance_is_ready(engine: Engine, secrets: InstanceSecrets) -> None:
    with engine.begin() as conn:  # the head row exists once anything was appended
        conn.execute(text("INSERT INTO audit_head (id, size, head_hash) VALUES (1, 0, :h)"),
                     {"h": b"\0" * 32})  # fmt: skip
    for check in store_checks(engine, secrets):
        check.run()


def test_sqlite_busy_with_a_writer_is_ready_at_once_read_only_is_not(engine: Engine) -> None:
    if not is_sqlite(engine):
        pytest.skip("SQLite's write lock")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_head (id, size, head_hash) VALUES (1, 0, :h)"),
                     {"h": b"\0" * 32})  # fmt: skip
    path = engine.url.database
    assert path
    # The engine's connections wait for a busy lock 2 minutes: a probe that queued behind
    # the writer (which holds the lock until the probe has returned) would wait that long
    # before its "busy" came back. At once means well under that, whatever the load.
    patient = make_engine(f"sqlite:///{path}")
    event.listen(
        patient, "connect", lambda dbapi, _: dbapi.execute(f"PRAGMA busy_timeout = {PATIENT_MS}")
    )
    writer = sqlite3.connect(path)
    writer.execute("BEGIN IMMEDIATE")  # another writer holds the lock (the gateway, busy)
    try:
        started = time.monotonic()
        audit_writable(patient).run()
        assert time.monotonic() - started < PATIENT_MS / 1000 / 2  # did not queue
    finally:
        writer.rollback()
        writer.close()
        patient.dispose()
    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(sqlite3.OperationalError):
            audit_writable(read_only).run()
    finally:
        read_only.dispose()


def test_postgresql_read_only_is_not_ready(engine: Engine) -> None:
    if is_sqlite(engine):
        pytest.skip("a PostgreSQL replica")
    options = str(engine.url.query.get("options", ""))  # the test's schema
    url = engine.url.update_query_dict(
        {"options": f"{options} -c default_transaction_read_only=on"}
    )
    read_only = make_engine(url.render_as_string(hide_password=False))
    try:
        with pytest.raises(Exception, match="read-only"):
            audit_writable(read_only).run()
    finally:
        read_only.dispose()


@pytest.mark.parametrize("listener", ["console", "public"])
def test_every_listener_checks_the_store_when_asked_ready(
    listener: str, settings: Settings, engine: Engine, secrets: InstanceSecrets
) -> None:
    """The console and the public service answer /ready with the store's checks, not an
    empty list that says "ready" whatever the store does."""
    import importlib

    import anyio
    import httpx

    app = importlib.import_module(f"vigie.{listener}.app").create_app(
        settings, engine=engine, secrets=secrets
    )
    assert app.listener_name == listener  # its metrics and access lines name it

    async def ready() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/ready")

    engine.dispose()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_head"))  # the audit trail can no longer be written
    answer = anyio.run(ready)
    assert answer.status_code == 503 and "audit" in answer.json()["failed"]


def test_a_staging_gateway_stays_ready_while_the_head_is_held(engine: Engine) -> None:
    """A sequencer paused while it holds the head must not take every host out of rotation."""
    if is_sqlite(engine):
        pytest.skip("SQLite has one write lock, whatever the mode")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_head (id, size, head_hash) VALUES (1, 0, :h)"),
                     {"h": b"\0" * 32})  # fmt: skip
    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT size FROM audit_head WHERE id = 1 FOR UPDATE"))
        audit_writable(engine, staged=True).run()  # at once: no head lock on its path
        with pytest.raises(Exception, match="lock timeout"):
            audit_writable(engine).run()  # a listener that locks the head waits, then fails
        holder.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM audit_pending")).scalar_one() == 0
