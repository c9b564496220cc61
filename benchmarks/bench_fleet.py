"""The gateway as a fleet on PostgreSQL: hosts, processors, CPU per request, integration.

Two measurements, on a PostgreSQL schema of its own (``BENCH_PG_URL``, default the test
server's ``test`` database; schema ``vigie_bench_fleet``, dropped and rebuilt each run):

1. **Gateway throughput**: ``BENCH_PEOPLE`` synthetic people (default 20,000) and the CIR
   providers (``vigie.synth``), budgets raised so they never bind (the ledger still
   counts every person). 1 or 2 server processes (uvicorn, one worker each, the
   gateway of ``vigie serve`` without the detection pipeline, as the gateway benchmark
   runs it), loaded by 1 or 4 processors at once, each from a client process of its own
   with ``BENCH_CONNECTIONS`` keep-alive connections spread over the hosts, reading one
   random person of its scope per request. Reported: answers/s, p50/p99 latency, the
   servers' CPU time per answer (``/proc``: user + system of the server processes,
   HTTP included), and the integration delay: from when an event is first seen pending
   (committed) to when it is gone (integrated), polling every 20 ms. ``staged`` is the fleet
   mode (durable, then sequenced by the elected sequencer); ``inline`` is the previous
   mode (every request chains its event under the head lock), for comparison.
2. **Audit append**: ``BENCH_STAGERS`` processes stage events as fast as they can
   (``BENCH_EVENTS_PER_TX`` per transaction) while one sequencer process integrates;
   reported: events/s staged, events/s integrated, and the backlog left.

Usage: ``python -m benchmarks fleet`` (``BENCH_SECONDS`` per run, default 10;
``BENCH_RUNS`` chooses the runs, e.g. ``staged:1:1,staged:1:4`` (mode:hosts:processors);
``BENCH_APPEND=0`` skips the audit-append part; ``BENCH_SCHEMA`` names the schema;
``BENCH_SRC``: a ``src`` directory the servers import Vigie from first, to measure
another version with the same script; ``BENCH_DETECTION=1`` adds the detection pipeline
to the servers, as ``vigie serve`` runs them, each contract's declared normal day raised
and the sweep's shares set out of reach so that no rule trips on the benchmark's random
reads).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
SCHEMA = os.environ.get("BENCH_SCHEMA", "vigie_bench_fleet")
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "20000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
STAGERS = int(os.environ.get("BENCH_STAGERS", "2"))
EVENTS_PER_TX = [int(n) for n in os.environ.get("BENCH_EVENTS_PER_TX", "1,16").split(",")]
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "50000"))
ROOT = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / "vigie-bench-fleet"
HUGE = 2_000_000_000
SAMPLE = 2_000  # people per processor the clients draw from


def _url(schema: str = SCHEMA) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


# --- the app factory uvicorn loads in each server process ---------------------------------


def fleet_app() -> Any:
    """``vigie serve``'s gateway, without detection unless ``BENCH_DETECTION=1``: staged +
    sequencer, or inline."""
    from vigie.audit.sequencer import SequencerService
    from vigie.gateway.app import create_app
    from vigie.gateway.wiring import (
        CheckpointTimer,
        default_after_commit,
        default_checkpointer,
        run_during,
    )
    from vigie.secrets import load_secrets
    from vigie.settings import Settings
    from vigie.store.engine import make_engine

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    secrets = load_secrets(settings.resolved_secrets_dir)
    staged = os.environ["BENCH_MODE"] == "staged"
    observers = []
    if os.environ.get("BENCH_DETECTION") == "1":  # the detection pipeline, as ``vigie serve``
        observers = [_detection(settings, engine)]
    app = create_app(
        settings,
        engine=engine,
        secrets=secrets,
        after_commit=() if staged else default_after_commit(settings, engine, secrets=secrets),
        staged=staged,
        observers=observers,
    )
    checkpointer = default_checkpointer(settings, engine, secrets=secrets)
    if staged:
        return run_during(app, SequencerService(engine, checkpointer))
    return run_during(app, CheckpointTimer(checkpointer))


def _detection(settings: Any, engine: Any) -> Any:
    """``vigie serve``'s detection pipeline, every detector, but the sweep's shares out of
    reach: the benchmark reads a sample of each scope at random, which the sweep rules
    rightly take for an extraction (the volume rules are kept quiet by the declared
    normal day, :func:`prepare`). Every request is recorded and the streaming detectors
    run as often as in ``vigie serve``."""
    from vigie.detection.notify import NullNotifier
    from vigie.detection.pipeline import DetectionConfig, DetectionPipeline, default_detectors
    from vigie.detection.sweep import SweepDetector
    from vigie.store.engine import make_session_factory

    detectors = [
        SweepDetector(share=2.0, walk_share=2.0, most_share=2.0)
        if isinstance(d, SweepDetector)
        else d
        for d in default_detectors()
    ]
    return DetectionPipeline(
        config=DetectionConfig.from_settings(settings),
        detectors=detectors,
        notifier=NullNotifier(),
        sessions=make_session_factory(engine),
    )


# --- the instance -----------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    data_dir: Path
    tokens: list[str]  # one per processor, in order
    paths: list[list[str]]  # request paths per processor


def prepare(*, schema: str = SCHEMA, processors: int = 4, root: Path = ROOT) -> Prepared:
    """The instance in ``schema`` (rebuilt), with a key and request paths for each of the
    first ``processors`` CIR providers (27 at most); its data directory under ``root``."""
    from sqlalchemy import create_engine, select, text

    from vigie.fingerprint.pseudonyms import Pseudonymiser
    from vigie.instance import initialise
    from vigie.processors.keys import issue_key
    from vigie.processors.models import Contract, Processor
    from vigie.secrets import load_secrets
    from vigie.settings import Settings
    from vigie.store.engine import make_engine, make_session_factory
    from vigie.synth.load import synthesize

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    data_dir = root / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, database_url=_url(schema))
    engine = make_engine(_url(schema))
    initialise(settings, engine)
    started = time.perf_counter()
    synthesize(engine, people=PEOPLE, seed=7)
    print(f"  synth of {PEOPLE:,} people on PostgreSQL: {time.perf_counter() - started:.1f} s")
    secrets = load_secrets(settings.resolved_secrets_dir)
    sessions = make_session_factory(engine)
    tokens, paths = [], []
    with sessions.begin() as s:
        for c in s.scalars(select(Contract)):
            c.budget_per_day = c.budget_per_30_days = c.rate_per_minute = HUGE
            c.expected_per_day = HUGE  # a normal day the detectors' volume rules never exceed
        names = list(s.scalars(select(Processor.name).order_by(Processor.id)))[:processors]
        for name in names:
            proc = s.scalars(select(Processor).where(Processor.name == name)).one()
            tokens.append(issue_key(s, processor=name, actor="operator:bench").token)
            ids = [
                int(r[0])
                for r in s.execute(
                    text(
                        "SELECT subject_id FROM assignments WHERE processor_id = :p "
                        "ORDER BY random() LIMIT :n"
                    ),
                    {"p": proc.id, "n": SAMPLE},
                )
            ]
            pseudo = Pseudonymiser(secrets, proc.id)
            paths.append([f"/api/v1/subjects/{p}" for p in pseudo.encode_many(ids)])
    engine.dispose()
    return Prepared(data_dir, tokens, paths)


# --- servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(prep: Prepared, port: int, mode: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        VIGIE_DATA_DIR=str(prep.data_dir),
        VIGIE_DATABASE_URL=_url(),
        BENCH_MODE=mode,
        PYTHONPATH=os.pathsep.join(
            filter(None, [os.environ.get("BENCH_SRC"), str(Path(__file__).resolve().parents[1])])
        ),
    )
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log",
           "benchmarks.bench_fleet:fleet_app"]  # fmt: skip
    log = (ROOT / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((ROOT / f"server-{port}.log").read_text()[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                if b" 200 " in s.recv(1024):
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not start")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children(pid: int) -> list[int]:
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == pid:
            found += [int(p), *_children(int(p))]
    return found


# --- load ---------------------------------------------------------------------------------


async def read_loop(
    host: str, port: int, token: str, paths: list[str], until: float
) -> tuple[list[float], int]:
    """One keep-alive HTTP/1.1 connection reading random ``paths`` with ``token`` until
    ``until`` (``time.monotonic()``): its latencies, and how many answers were not 200."""
    reader, writer = await asyncio.open_connection(host, port)
    lat: list[float] = []
    bad = 0
    head = f"Host: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    while time.monotonic() < until:
        t0 = time.perf_counter()
        writer.write(b"GET " + random.choice(paths).encode() + b" HTTP/1.1\r\n" + head)
        status = await reader.readline()
        if not status:  # the server closed the connection: this one is done
            bad += 1
            break
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        lat.append(time.perf_counter() - t0)
        bad += b" 200 " not in status
    writer.close()
    return lat, bad


def _client(
    ports: list[int], token: str, paths: list[str], seconds: float, go: Any, out: Any
) -> None:
    """One processor: CONNECTIONS keep-alive connections over the hosts, for ``seconds``
    from when ``go`` is set (after every client has said it is ready)."""
    out.put("ready")
    go.wait()
    until = time.monotonic() + seconds

    async def main() -> tuple[list[float], int]:
        done = await asyncio.gather(
            *(
                read_loop("127.0.0.1", ports[i % len(ports)], token, paths, until)
                for i in range(CONNECTIONS)
            )
        )
        return [x for lat, _ in done for x in lat], sum(b for _, b in done)

    out.put(asyncio.run(main()))


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float  # server CPU per answer
    bad: int
    delay_p99_ms: float | None  # commit to integration, p99 over the events seen pending
    delay_max_ms: float | None


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def measure(prep: Prepared, *, hosts: int, processors: int, mode: str) -> Run:
    from sqlalchemy import create_engine, text

    ports = [_free_port() for _ in range(hosts)]
    servers = [_start(prep, port, mode) for port in ports]
    ctx = multiprocessing.get_context("spawn")
    try:
        _load(ctx, ports, prep, processors, 2)  # warm-up: connection pools, caches
        samples: list[float] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(stop, samples), daemon=True)
        sampler.start()
        mark: dict[str, float] = {}

        def started() -> None:
            mark["cpu"] = sum(_cpu_seconds(s.pid) for s in servers)
            mark["t"] = time.perf_counter()

        lat, bad = _load(ctx, ports, prep, processors, SECONDS, started)
        wall = time.perf_counter() - mark["t"]
        cpu = sum(_cpu_seconds(s.pid) for s in servers) - mark["cpu"]
        stop.set()
        sampler.join()
    finally:
        for s in servers:
            s.terminate()
        for s in servers:
            try:
                s.wait(timeout=60)
            except subprocess.TimeoutExpired:
                s.kill()
    engine = create_engine(_url())
    with engine.connect() as conn:
        left = conn.execute(text("SELECT COUNT(*) FROM audit_pending")).scalar_one()
    engine.dispose()
    assert left == 0, f"{left} events left pending after a clean stop"
    n = len(lat)
    staged = mode == "staged"
    return Run(
        rps=n / wall,
        p50_ms=_pct(lat, 0.5) * 1000,
        p99_ms=_pct(lat, 0.99) * 1000,
        cpu_us=cpu / n * 1e6 if n else 0.0,
        bad=bad,
        delay_p99_ms=_pct(samples, 0.99) * 1000 if staged else None,
        delay_max_ms=max(samples, default=0.0) * 1000 if staged else None,
    )


def _load(
    ctx: Any,
    ports: list[int],
    prep: Prepared,
    processors: int,
    seconds: float,
    started: Any = lambda: None,
) -> Any:
    """Run the clients for ``seconds`` once all are up; ``started()`` when they start."""
    out, go = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_client, args=(ports, prep.tokens[i], prep.paths[i], seconds, go, out))
        for i in range(processors)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        assert out.get(timeout=300) == "ready"
    started()
    go.set()
    lat: list[float] = []
    bad = 0
    for _ in procs:
        got, b = out.get(timeout=seconds + 120)
        lat += got
        bad += b
    for p in procs:
        p.join(30)
    return lat, bad


def _sample(stop: threading.Event, samples: list[float]) -> None:
    """Time each pending event from when it is first seen (committed) to when it is gone
    (integrated), polling every 20 ms: each delay is exact to one poll."""
    from sqlalchemy import create_engine, text

    engine = create_engine(_url())
    first_seen: dict[int, float] = {}
    with engine.connect() as conn:
        while not stop.wait(0.02):
            ids = set(conn.execute(text("SELECT id FROM audit_pending")).scalars())
            conn.rollback()
            now = time.monotonic()
            for gone in [i for i in first_seen if i not in ids]:
                samples.append(now - first_seen.pop(gone))
            for i in ids:
                first_seen.setdefault(i, now)
    engine.dispose()


# --- audit append -------------------------------------------------------------------------


def _stager(url: str, worker: int, per_tx: int, go: Any, out: Any) -> None:
    from vigie.audit.actions import Action
    from vigie.audit.trail import NewEvent, stage
    from vigie.store.engine import make_engine, make_session_factory

    sessions = make_session_factory(make_engine(url))
    out.put(0)  # ready
    go.wait()
    until = time.time() + SECONDS
    n = i = 0
    while time.time() < until:
        events = [
            NewEvent(
                action=Action.SUBJECT_READ,
                actor=f"processor:bench{worker}/key:{worker}",
                processor_id=worker,
                key_id=worker,
                subject_ids=[worker * 10_000_000 + i + k],
                fields=["email", "given_name", "postal_code"],
                detail={"contracts": [worker], "newly_counted": 1},
            )
            for k in range(per_tx)
        ]
        with sessions.begin() as s:
            stage(s, events)
        n += per_tx
        i += per_tx
    out.put(n)


def append_rate(prep: Prepared, per_tx: int) -> tuple[float, float, int, float]:
    """Events/s staged, events/s integrated meanwhile, backlog at the end, drain seconds."""
    from sqlalchemy import create_engine, text

    env = dict(os.environ)
    env.update(VIGIE_DATA_DIR=str(prep.data_dir), VIGIE_DATABASE_URL=_url())
    engine = create_engine(_url())

    def chained() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT size FROM audit_head")).scalar_one())

    sequencer = subprocess.Popen(
        [sys.executable, "-c", _SEQUENCER], env=env, stdout=subprocess.DEVNULL
    )
    time.sleep(5)  # started and elected
    ctx = multiprocessing.get_context("spawn")
    out, go = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_stager, args=(_url(), 100 + w, per_tx, go, out)) for w in range(STAGERS)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        out.get(timeout=300)  # ready
    before, t0 = chained(), time.perf_counter()
    go.set()
    staged = sum(out.get(timeout=SECONDS + 120) for _ in procs)
    wall = time.perf_counter() - t0
    after = chained()
    for p in procs:
        p.join(30)
    with engine.connect() as conn:
        backlog = int(conn.execute(text("SELECT COUNT(*) FROM audit_pending")).scalar_one())
    drained, left = time.perf_counter(), backlog
    while left:
        time.sleep(0.1)
        with engine.connect() as conn:
            left = int(conn.execute(text("SELECT COUNT(*) FROM audit_pending")).scalar_one())
    drain = time.perf_counter() - drained
    sequencer.terminate()
    sequencer.wait(60)
    engine.dispose()
    return staged / wall, (after - before) / wall, backlog, drain


def integration_rate(prep: Prepared, n: int = BACKLOG) -> tuple[float, float, float]:
    """Events/s staged in transactions of 1,000, then events/s one sequencer integrates
    from that backlog (batches of ``vigie.audit.sequencer.BATCH``), in this process, and
    the sequencer's own CPU per event (PostgreSQL's not included)."""
    from vigie.audit.actions import Action
    from vigie.audit.sequencer import integrate_all
    from vigie.audit.trail import NewEvent, stage
    from vigie.store.engine import make_engine, make_session_factory

    engine = make_engine(_url())
    sessions = make_session_factory(engine)
    t0 = time.perf_counter()
    for start in range(0, n, 1000):
        with sessions.begin() as s:
            stage(
                s,
                [
                    NewEvent(
                        action=Action.SUBJECT_READ,
                        actor="processor:bench/key:1",
                        processor_id=900,
                        key_id=1,
                        subject_ids=[50_000_000 + start + k],
                        fields=["email", "given_name", "postal_code"],
                        detail={"contracts": [900], "newly_counted": 1},
                    )
                    for k in range(min(1000, n - start))
                ],
            )
    staged = n / (time.perf_counter() - t0)
    t0, cpu0 = time.perf_counter(), time.process_time()
    done = integrate_all(engine)
    integrated = done / (time.perf_counter() - t0)
    cpu_us = (time.process_time() - cpu0) / done * 1e6
    engine.dispose()
    return staged, integrated, cpu_us


_SEQUENCER = """
import signal, threading
from vigie.audit.sequencer import SequencerService
from vigie.gateway.wiring import default_checkpointer
from vigie.secrets import load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine
settings = Settings()
engine = make_engine(settings.resolved_database_url)
secrets = load_secrets(settings.resolved_secrets_dir)
service = SequencerService(engine, default_checkpointer(settings, engine, secrets=secrets))
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: done.set())
service.start()
done.wait()
service.stop()
"""


def main() -> None:
    ROOT.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.1f} (2 cores shared with other work)")
    prep = prepare()
    print("| mode | hosts | processors | answers/s | p50 ms | p99 ms | server CPU µs/answer "
          "| integration delay p99 / max ms | non-200 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    runs = [
        ("staged", 1, 1), ("staged", 1, 4), ("staged", 2, 1), ("staged", 2, 4),
        ("inline", 1, 4), ("inline", 2, 4),
    ]  # fmt: skip
    if os.environ.get("BENCH_RUNS"):  # e.g. "staged:1:1,staged:1:4"
        runs = [(m, int(h), int(n)) for m, h, n in
                (r.split(":") for r in os.environ["BENCH_RUNS"].split(","))]  # fmt: skip
    for mode, hosts, processors in runs:
        r = measure(prep, hosts=hosts, processors=processors, mode=mode)
        delay = "—" if r.delay_p99_ms is None else f"{r.delay_p99_ms:.0f} / {r.delay_max_ms:.0f}"
        print(f"| {mode} | {hosts} | {processors} | {r.rps:,.0f} | {r.p50_ms:.1f} | "
              f"{r.p99_ms:.1f} | {r.cpu_us:,.0f} | {delay} | {r.bad} |", flush=True)  # fmt: skip
    print()
    if os.environ.get("BENCH_APPEND", "1") == "0":
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
        return
    print("| events per transaction | stagers | staged events/s | integrated events/s "
          "| backlog at end | drained in s |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for per_tx in EVENTS_PER_TX:
        staged, integrated, backlog, drain = append_rate(prep, per_tx)
        print(f"| {per_tx} | {STAGERS} | {staged:,.0f} | {integrated:,.0f} | {backlog:,} | "
              f"{drain:.1f} |", flush=True)  # fmt: skip
    staged, integrated, cpu_us = integration_rate(prep)
    print()
    print(f"backlog of {BACKLOG:,} events: staged at {staged:,.0f} events/s (1,000 per "
          f"transaction), integrated by one sequencer at {integrated:,.0f} events/s, "
          f"{cpu_us:.0f} µs of the sequencer's CPU per event")  # fmt: skip
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.1f}")
