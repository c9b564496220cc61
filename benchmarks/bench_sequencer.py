"""The audit sequencer on PostgreSQL: entries/s, CPU per entry, integration delay.

On a PostgreSQL schema of its own (``BENCH_PG_URL``, default the test server's ``test``
database; schema ``vigie_bench_sequencer``, rebuilt each run), with only the audit
tables and a generated signing key:

1. **Capacity from a backlog**: ``BENCH_BACKLOG`` events (default 100,000, single-person
   disclosures, each a different person, as the gateway stages them) are staged first,
   then one :func:`vigie.audit.sequencer.integrate_all` in this process integrates them
   (batches of ``sequencer.BATCH``). Reported: entries/s, the integrator's CPU per entry
   and its PostgreSQL backend's CPU per entry (``/proc``, both measured, not estimated).
2. **Sustained**: ``BENCH_STAGERS`` processes (default 2) stage events at a paced total
   rate (``BENCH_RATES``, default 10,000 and 20,000 events/s, ``BENCH_PER_TX`` events per
   transaction, default 100), for ``BENCH_SECONDS`` (default 15), while a
   :class:`vigie.audit.sequencer.SequencerService` (lease, fence, checkpoints every
   10,000 events, as ``vigie audit sequence`` runs it) integrates in a process of its
   own. Reported: staged and integrated entries/s, the backlog at the end, the
   sequencer's CPU per entry (its process and its PostgreSQL backends), and the
   integration delay p50/p99/max: for every 50th event, from its ``at_us`` (stamped by
   the stager just before its commit) to when a poller (every 20 ms) first sees it on
   the chain — pessimistic by up to the poll interval.

Usage: ``python -m benchmarks sequencer``. The figures depend on the machine's load
(printed): on a shared machine, CPU per entry is the figure to compare.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
SCHEMA = "vigie_bench_sequencer"
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "100000"))
STAGERS = int(os.environ.get("BENCH_STAGERS", "2"))
RATES = [int(n) for n in os.environ.get("BENCH_RATES", "10000,20000").split(",")]
PER_TX = int(os.environ.get("BENCH_PER_TX", "100"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
SAMPLE_EVERY = 50
STAGER_APP = "vigie-bench-stager"


def _url() -> str:
    return f"{PG_URL}?options=-csearch_path%3D{SCHEMA}"


def _cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backends(conn: Any, app_like: str) -> list[int]:
    from sqlalchemy import text

    rows = conn.execute(
        text("SELECT pid FROM pg_stat_activity WHERE application_name LIKE :a"), {"a": app_like}
    )
    return [int(r[0]) for r in rows]


def reset() -> None:
    from sqlalchemy import create_engine, text

    from vigie.store.base import Base
    from vigie.store.engine import make_engine

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    engine = make_engine(_url())
    import vigie.audit.models  # noqa: F401  (the audit tables)

    tables = [t for name, t in Base.metadata.tables.items() if name.startswith("audit_")]
    Base.metadata.create_all(engine, tables=tables)
    engine.dispose()


def _events(worker: int, start: int, n: int) -> list[Any]:
    from vigie.audit.actions import Action
    from vigie.audit.trail import NewEvent

    return [
        NewEvent(
            action=Action.SUBJECT_READ,
            actor=f"processor:bench{worker}/key:{worker}",
            processor_id=worker,
            key_id=worker,
            origin="192.0.2.7",
            purpose="bench",
            subject_ids=[worker * 10_000_000 + start + k],
            fields=["email", "given_name", "postal_code"],
            detail={"contracts": [worker], "newly_counted": 1},
        )
        for k in range(n)
    ]


# --- 1. capacity from a backlog -------------------------------------------------------------


def capacity(n: int = BACKLOG) -> tuple[float, float, float]:
    """Entries/s integrated from a backlog of ``n``; client and backend CPU µs per entry."""
    from sqlalchemy import text
    from sqlalchemy.pool import StaticPool

    from vigie.audit.sequencer import integrate_all
    from vigie.audit.trail import stage
    from vigie.store.engine import make_engine, make_session_factory

    reset()
    engine = make_engine(_url(), poolclass=StaticPool)
    sessions = make_session_factory(engine)
    for start in range(0, n, 1000):
        with sessions.begin() as s:
            stage(s, _events(900, start, min(1000, n - start)))
    with engine.connect() as conn:
        conn.execute(text("ANALYZE audit_pending"))  # as autovacuum would have by then
        conn.commit()
        backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    pg0, cpu0, t0 = _cpu(backend), time.process_time(), time.perf_counter()
    done = integrate_all(engine)
    wall = time.perf_counter() - t0
    client_us = (time.process_time() - cpu0) / done * 1e6
    backend_us = (_cpu(backend) - pg0) / done * 1e6
    engine.dispose()
    return done / wall, client_us, backend_us


# --- 2. sustained: stagers and a sequencer process -----------------------------------------


def _stager(url: str, worker: int, rate: float, go: Any, out: Any, stop: Any) -> None:
    from vigie.audit.trail import stage
    from vigie.store.engine import make_engine, make_session_factory

    engine = make_engine(url, connect_args={"application_name": STAGER_APP})
    sessions = make_session_factory(engine)
    with engine.connect():  # opened now, so that its backend is measured
        pass
    out.put(0)  # ready
    go.wait()
    started = time.perf_counter()
    n = 0
    while (now := time.perf_counter()) < started + SECONDS:
        due = started + n / rate  # paced: never ahead of the target rate
        if now < due:
            time.sleep(due - now)
        with sessions.begin() as s:
            stage(s, _events(worker, n, PER_TX))
        n += PER_TX
    out.put(n)
    stop.wait()  # its backend stays until measured
    engine.dispose()


def _sequencer(url: str, ready: Any, stop: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vigie.audit.checkpoints import Checkpointer
    from vigie.audit.sequencer import SequencerService
    from vigie.store.engine import make_engine, make_session_factory

    engine = make_engine(url)
    checkpointer = Checkpointer(
        sessions=make_session_factory(engine),
        signing_key=Ed25519PrivateKey.generate(),
        every_events=10_000,
    )
    service = SequencerService(engine, checkpointer)
    service.start()
    while not service.elected.wait(0.05):
        pass
    ready.set()
    stop.wait()
    service.stop()


def sustained(rate: int) -> dict[str, float]:
    from sqlalchemy import text

    from vigie.store.engine import make_engine

    reset()
    ctx = multiprocessing.get_context("spawn")
    ready, stop, go, out = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Queue()
    seq = ctx.Process(target=_sequencer, args=(_url(), ready, stop))
    seq.start()
    if not ready.wait(120):
        raise RuntimeError("the sequencer was not elected")
    stagers = [
        ctx.Process(target=_stager, args=(_url(), 100 + w, rate / STAGERS, go, out, stop))
        for w in range(STAGERS)
    ]
    for p in stagers:
        p.start()
    for _ in stagers:
        out.get(timeout=300)
    monitor = make_engine(_url())
    assert seq.pid is not None
    ours = f"vigie-sequencer %:{seq.pid}:%"  # this run's sequencer only
    with monitor.connect() as conn:
        seq_backends = _backends(conn, ours)
        stager_backends = _backends(conn, STAGER_APP)
        head = conn.execute(text("SELECT COALESCE(MAX(size), 0) FROM audit_head"))
        size0 = int(head.scalar_one())
    stager_pids = [p.pid for p in stagers if p.pid is not None]
    cpu0 = {p: _cpu(p) for p in [seq.pid, *seq_backends, *stager_backends, *stager_pids]}
    delays: list[float] = []
    halt = threading.Event()

    def poll() -> None:
        last = size0
        with monitor.connect() as conn:
            while not halt.wait(0.02):
                rows = conn.execute(
                    text(
                        "SELECT seq, at_us FROM audit_events WHERE seq > :last "
                        f"AND seq % {SAMPLE_EVERY} = 0 AND actor LIKE 'processor:%'"
                    ),
                    {"last": last},
                ).all()
                conn.commit()
                now_us = time.time_ns() // 1000
                for s, at_us in rows:
                    delays.append((now_us - at_us) / 1e6)
                    last = max(last, s)

    poller = threading.Thread(target=poll)
    poller.start()
    t0 = time.perf_counter()
    go.set()
    staged = sum(out.get(timeout=SECONDS + 300) for _ in stagers)
    wall = time.perf_counter() - t0
    with monitor.connect() as conn:
        size1 = int(conn.execute(text("SELECT size FROM audit_head")).scalar_one())
        backlog = int(conn.execute(text("SELECT COUNT(*) FROM audit_pending")).scalar_one())
        seq_backends = sorted(set(seq_backends) | set(_backends(conn, ours)))
    cpu1 = {p: _cpu(p) for p in [seq.pid, *seq_backends, *stager_backends, *stager_pids]}
    cpu0 = {p: cpu0.get(p, 0.0) for p in cpu1}  # a backend opened meanwhile: all its CPU
    time.sleep(0.5)  # let the poller see the last integrated events
    halt.set()
    poller.join()
    stop.set()
    for p in stagers:
        p.join(30)
    seq.join(120)
    monitor.dispose()
    integrated = size1 - size0
    seq_cpu = sum(cpu1[p] - cpu0[p] for p in [seq.pid, *seq_backends])
    stager_cpu = sum(cpu1[p] - cpu0[p] for p in stager_backends)
    stager_own = sum(cpu1[p] - cpu0[p] for p in stager_pids)
    delays.sort()

    def pct(q: float) -> float:
        return delays[min(len(delays) - 1, int(q * len(delays)))] if delays else float("nan")

    return {
        "staged": staged / wall,
        "integrated": integrated / wall,
        "backlog": backlog,
        "seq_us": seq_cpu / max(1, integrated) * 1e6,
        "stager_pg_us": stager_cpu / max(1, staged) * 1e6,
        "stager_us": stager_own / max(1, staged) * 1e6,
        "p50": pct(0.5),
        "p99": pct(0.99),
        "max": delays[-1] if delays else float("nan"),
        "samples": len(delays),
    }


def main() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores shared with other work)")
    rate, client_us, backend_us = capacity()
    print(
        f"capacity from a backlog of {BACKLOG:,}: {rate:,.0f} entries/s; per entry "
        f"{client_us:.1f} µs of the integrator's CPU + {backend_us:.1f} µs of its "
        f"PostgreSQL backend's = {client_us + backend_us:.1f} µs "
        f"(one core each, serialised: {1e6 / (client_us + backend_us):,.0f} entries/s)"
    )
    print()
    print(
        f"| target entries/s ({STAGERS} stagers, {PER_TX}/tx) | staged/s | integrated/s "
        "| backlog at end | sequencer CPU µs/entry (process + backends) "
        "| stagers µs/entry (processes + backends) | delay p50 / p99 / max ms | load |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for target in RATES:
        r = sustained(target)
        print(
            f"| {target:,} | {r['staged']:,.0f} | {r['integrated']:,.0f} | {r['backlog']:,.0f} "
            f"| {r['seq_us']:.1f} | {r['stager_us']:.1f} + {r['stager_pg_us']:.1f} "
            f"| {r['p50'] * 1000:.0f} / {r['p99'] * 1000:.0f} / {r['max'] * 1000:.0f} "
            f"| {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
