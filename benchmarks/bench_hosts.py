"""The gateway as a fleet of hosts: 1, 2, 4 hosts × 1, 4, 16 processors, PostgreSQL over a
slow link, against a bare ASGI + PostgreSQL app on the same hosts and link.

Each host is a network namespace of its own with a veth link to the root namespace
(:mod:`tests.hosts`); it reaches PostgreSQL only through its link's delaying forwarder,
which adds ``BENCH_DELAY_MS`` (default 0.5 ms) each way: 1 ms on every round trip
(``tc netem`` is missing on these kernels). The processors' clients run in the root
namespace (``min(processors, 4)`` client processes, asyncio, raw HTTP/1.1 keep-alive),
``BENCH_CLIENTS`` connections per processor (default 16) spread over the hosts, each
reading one random person of its processor's scope per request, for ``BENCH_SECONDS``
(default 10) after a 2 s warm-up.

Servers (one uvicorn worker per host):

- **vigie**: the gateway of ``vigie serve`` without the detection pipeline
  (:func:`benchmarks.bench_fleet.fleet_app`, staged mode: requests stage their audit
  events, the elected host's sequencer integrates them; ``BENCH_DETECTION=1`` adds the
  pipeline, as ``vigie serve`` runs it), budgets raised so they never bind (the ledger
  still counts every person);
- **bare**: a raw ASGI app that reads the same person's row (one ``SELECT`` by id over a
  pool of 8 async psycopg connections through the same link) and encodes it with orjson:
  the ceiling of one Python process per host on this link.

Reported per run: answers/s, p50 and p99 latency, the servers' CPU per answer (user +
system of every process in the hosts' namespaces, ``/proc``), the forwarders' CPU per
answer (the simulated link's own cost), how busy the whole machine was (``/proc/stat``)
and the backlog left pending at the end (vigie). With 2 vigie hosts (unless
``BENCH_NEIGHBOURS=0``): a light processor's latency alone, beside a heavy processor,
and beside two CPU burners (contention without a shared lock). The instance is rebuilt in schema
``vigie_bench_hosts`` (``BENCH_PEOPLE`` people, default 20,000). ``BENCH_SERVERS`` picks
the servers (default ``vigie,bare``); ``BENCH_BASELINE_SRC``, the ``src`` of another
checkout, adds a **baseline** server (that checkout's Vigie) run over the same shapes just before
vigie, for a before/after on the same instance and link. ``BENCH_SPLIT=1`` also reports
where each answer's CPU went: the servers' event-loop threads, their other threads
(request workers, the sequencer, timers) and the PostgreSQL backends serving the hosts
(found by their ``application_name``), from ``/proc`` per thread and process.

Usage: ``python -m benchmarks hosts`` (root, or ``CAP_NET_ADMIN``: it makes namespaces).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bench_fleet import PEOPLE, PG_URL, _pct, _url, prepare, read_loop

SCHEMA = "vigie_bench_hosts"
HOSTS = [int(n) for n in os.environ.get("BENCH_HOSTS", "1,2,4").split(",")]
PROCESSORS = [int(n) for n in os.environ.get("BENCH_PROCESSORS", "1,4,16").split(",")]
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
DELAY_MS = float(os.environ.get("BENCH_DELAY_MS", "0.5"))
ROOT = Path(os.environ.get("BENCH_DIR", "/tmp")) / "vigie-bench-hosts"
COLUMNS = "given_name, family_name, birth_date, email, postal_code"
POOL = 8
NEIGHBOURS = os.environ.get("BENCH_NEIGHBOURS", "1") == "1"
SERVERS = os.environ.get("BENCH_SERVERS", "baseline,vigie,bare").split(",")
BASELINE_SRC = os.environ.get("BENCH_BASELINE_SRC", "")
SPLIT = os.environ.get("BENCH_SPLIT", "0") == "1"


# --- the bare app each host runs for the ceiling -------------------------------------------


def bare_app() -> Any:
    """A raw ASGI app: one ``SELECT`` by id over a small async pool, orjson, nothing else."""
    import orjson
    import psycopg
    from sqlalchemy import make_url

    url = make_url(os.environ["VIGIE_DATABASE_URL"])
    dsn = (f"host={url.host} port={url.port} user={url.username} dbname={url.database} "
           f"options=-csearch_path={SCHEMA}")  # fmt: skip
    sql = f"SELECT id, {COLUMNS} FROM subjects WHERE id = %s"
    names = ["id", *COLUMNS.split(", ")]
    pool: asyncio.Queue[Any] = asyncio.Queue()
    opened: list[Any] = []

    async def connection() -> Any:
        if len(opened) < POOL and pool.empty():
            opened.append(None)  # reserve the slot before awaiting
            return await psycopg.AsyncConnection.connect(dsn, autocommit=True)
        return await pool.get()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        body = b"{}"
        if path.startswith("/subjects/"):
            conn = await connection()
            try:
                cur = await conn.execute(sql, (int(path[10:]),))
                row = await cur.fetchone()
            finally:
                pool.put_nowait(conn)
            body = orjson.dumps(dict(zip(names, row, strict=True)) if row else {})
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _uvicorn(app: str) -> Any:
    from tests.hosts import PORT, Host

    def command(host: Host) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--factory", "--host", host.address,
                "--port", str(PORT), "--log-level", "warning", "--no-access-log", app]  # fmt: skip

    return command


# --- load --------------------------------------------------------------------------------


def _client(
    group: int,
    work: list[tuple[str, list[str], list[str], int]],
    seconds: float,
    go: Any,
    out: Any,
) -> None:
    """For each ``(token, paths, base addresses, connections)`` of ``work``, that many
    connections spread over the hosts, for ``seconds`` once ``go`` is set."""
    out.put("ready")
    go.wait()
    until = time.monotonic() + seconds

    async def conn(address: str, token: str, paths: list[str]) -> tuple[list[float], int]:
        host, port = address.split(":")
        return await read_loop(host, int(port), token, paths, until)

    async def main() -> tuple[list[float], int]:
        tasks = [
            conn(addresses[i % len(addresses)], token, paths)
            for token, paths, addresses, connections in work
            for i in range(connections)
        ]
        done = await asyncio.gather(*tasks)
        return [x for lat, _ in done for x in lat], sum(b for _, b in done)

    out.put((group, *asyncio.run(main())))


def _own_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` alone (its children are counted as themselves)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _thread_cpu(pid: int) -> dict[int, float]:
    """User + system CPU seconds of each thread of ``pid``, by thread id."""
    out: dict[int, float] = {}
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return out
    for tid in tids:
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _backend_pids(fleet: Any) -> list[int]:
    """The PostgreSQL backends serving the hosts (``application_name`` is the host's)."""
    import psycopg

    names = [h.app_name for h in fleet.hosts]
    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = ANY(%s)", (names,)
        ).fetchall()
    return [int(r[0]) for r in rows]


def _busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    server_us: float  # CPU of the hosts' processes per answer
    link_us: float  # CPU of the delaying forwarders per answer
    busy: float  # share of the machine's two cores in use
    bad: int
    split: dict[str, float] | None = None  # BENCH_SPLIT: CPU µs per answer by place


_EARLY: set[int] = set()  # threads the servers had before their first load


def _split(fleet: Any) -> dict[str, float]:
    """CPU seconds so far of the servers' main threads (the event loop), the threads they
    started before their first load (the sequencer, the timers: ``_EARLY``), the threads
    started since (request workers), and the PostgreSQL backends serving them."""
    out = {"loop": 0.0, "workers": 0.0, "sequencer+timers": 0.0, "postgres": 0.0}
    for h in fleet.hosts:
        for pid in h.pids():
            for tid, cpu in _thread_cpu(pid).items():
                where = "sequencer+timers" if tid in _EARLY else "workers"
                out["loop" if tid == pid else where] += cpu
    out["postgres"] = sum(_own_cpu(pid) for pid in _backend_pids(fleet))
    return out


def _load(
    fleet: Any,
    work: list[tuple[str, list[str], int]],
    seconds: float,
    *,
    groups: int = 4,
) -> tuple[Run, list[list[float]]]:
    """Run ``work`` (token, paths, connections) from ``min(len(work), groups)`` client
    processes; the whole run's figures and each client process's latencies."""
    addresses = [f"{h.address}:8000" for h in fleet.hosts]
    ctx = multiprocessing.get_context("spawn")
    groups = min(len(work), groups)
    out, go = ctx.Queue(), ctx.Event()
    share = [[(t, p, addresses, c) for t, p, c in work[g::groups]] for g in range(groups)]
    procs = [
        ctx.Process(target=_client, args=(g, s, seconds, go, out)) for g, s in enumerate(share)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        assert out.get(timeout=300) == "ready"

    def cpu() -> tuple[float, float]:
        servers = sum(_own_cpu(pid) for h in fleet.hosts for pid in h.pids())
        link = sum(_own_cpu(h.proxy.pid) for h in fleet.hosts)
        return servers, link

    split0 = _split(fleet) if SPLIT else None
    (s0, l0), b0, t0 = cpu(), _busy(), time.perf_counter()
    go.set()
    lat: list[float] = []
    per_group: list[list[float]] = [[] for _ in procs]
    bad = 0
    for _ in procs:
        g, got, b = out.get(timeout=seconds + 300)
        per_group[g] = got
        lat += got
        bad += b
    wall = time.perf_counter() - t0
    (s1, l1), b1 = cpu(), _busy()
    split1 = _split(fleet) if SPLIT else None
    for p in procs:
        p.join(30)
    n = max(len(lat), 1)
    run = Run(
        rps=len(lat) / wall,
        p50_ms=_pct(lat, 0.5) * 1000,
        p99_ms=_pct(lat, 0.99) * 1000,
        server_us=(s1 - s0) / n * 1e6,
        link_us=(l1 - l0) / n * 1e6,
        busy=(b1[0] - b0[0]) / max(b1[1] - b0[1], 1),
        bad=bad,
        split=None
        if split0 is None or split1 is None
        else {k: (split1[k] - split0[k]) / n * 1e6 for k in split0},
    )
    return run, per_group


def _burn(seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        pass


def neighbours(fleet: Any, prep: Any) -> None:
    """Does one processor's heavy traffic slow another's beyond CPU contention? A light
    processor (2 connections) alone, then beside a heavy one (16 connections), then
    beside two CPU burners (contention without any shared lock or row)."""
    light = [(prep.tokens[1], prep.paths[1], 2)]
    heavy = (prep.tokens[0], prep.paths[0], CLIENTS)
    _load(fleet, light, 2)  # warm-up
    alone = _load(fleet, light, SECONDS)[1][0]
    run, per = _load(fleet, [*light, heavy], SECONDS, groups=2)
    ctx = multiprocessing.get_context("spawn")
    burners = [ctx.Process(target=_burn, args=(SECONDS + 5,)) for _ in range(2)]
    for b in burners:
        b.start()
    burnt = _load(fleet, light, SECONDS)[1][0]
    for b in burners:
        b.join()
    print(f"\nneighbours on {len(fleet.hosts)} hosts: the light processor's p50 / p99 ms "
          f"alone {_pct(alone, 0.5) * 1e3:.1f} / {_pct(alone, 0.99) * 1e3:.1f}; beside the "
          f"heavy one ({len(per[1]) / SECONDS:,.0f} answers/s) {_pct(per[0], 0.5) * 1e3:.1f} / "
          f"{_pct(per[0], 0.99) * 1e3:.1f}; beside two CPU burners "
          f"{_pct(burnt, 0.5) * 1e3:.1f} / {_pct(burnt, 0.99) * 1e3:.1f} "
          f"(machine busy {run.busy:.0%} with the heavy one)")  # fmt: skip


def _pending() -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(_url(SCHEMA))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM audit_pending")).scalar_one())
    finally:
        engine.dispose()


def main() -> None:
    from tests.hosts import fleet, netns_problem

    problem = netns_problem()
    if problem is not None:
        print(f"  skipped: network namespaces unavailable here ({problem})")
        return
    ROOT.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores shared with other work)")
    prep = prepare(schema=SCHEMA, processors=max(PROCESSORS), root=ROOT)
    rng = random.Random(7)
    bare_paths = [f"/subjects/{rng.randint(1, PEOPLE)}" for _ in range(2_000)]
    print(f"{CLIENTS} connections per processor; link: {DELAY_MS} ms each way; "
          f"{SECONDS:.0f} s per run")  # fmt: skip
    print("| server | hosts | processors | answers/s | p50 ms | p99 ms | server CPU µs/answer "
          "| link CPU µs/answer | machine busy | non-200 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    table: dict[tuple[str, int, int], Run] = {}
    checkout = Path(__file__).resolve().parents[1]
    src = os.environ.get("BENCH_SRC") or str(checkout / "src")  # this checkout's Vigie
    servers = [("vigie", "benchmarks.bench_fleet:fleet_app", src)]
    if BASELINE_SRC:  # another checkout's Vigie, run just before, for an A/B at equal load
        servers.insert(0, ("baseline", "benchmarks.bench_fleet:fleet_app", BASELINE_SRC))
    servers.append(("bare", "benchmarks.bench_hosts:bare_app", src))
    for kind, app, source in [s for s in servers if s[0] in SERVERS]:
        env = {"PYTHONPATH": os.pathsep.join([source, str(checkout)]), "BENCH_MODE": "staged",
               "BENCH_DETECTION": os.environ.get("BENCH_DETECTION", "0")}  # fmt: skip
        for hosts in HOSTS:
            with fleet(
                hosts,
                data_dir=prep.data_dir,
                database_url=f"{PG_URL}?options=-csearch_path%3D{SCHEMA}",
                logs=ROOT / "logs",
                delay_ms=DELAY_MS,
                command=_uvicorn(app),
                env=env,
            ) as f:
                _EARLY.clear()
                _EARLY.update(t for h in f.hosts for pid in h.pids() for t in _thread_cpu(pid))
                for processors in PROCESSORS:
                    work = [
                        (prep.tokens[i], bare_paths if kind == "bare" else prep.paths[i], CLIENTS)
                        for i in range(processors)
                    ]
                    _load(f, work, 2)  # warm-up: pools, caches
                    r, _ = _load(f, work, SECONDS)
                    table[kind, hosts, processors] = r
                    print(f"| {kind} | {hosts} | {processors} | {r.rps:,.0f} | {r.p50_ms:.1f} | "
                          f"{r.p99_ms:.1f} | {r.server_us:,.0f} | {r.link_us:,.0f} | "
                          f"{r.busy:.0%} | {r.bad} |", flush=True)  # fmt: skip
                    if r.split is not None:
                        print("    CPU µs per answer: " + ", ".join(
                            f"{k} {v:,.0f}" for k, v in r.split.items()), flush=True)  # fmt: skip
                if kind == "vigie" and hosts == 2 and NEIGHBOURS:
                    neighbours(f, prep)
            if kind != "bare":
                print(f"  after {hosts} host(s) stopped: {_pending()} audit entries pending")
    print()
    for processors in PROCESSORS:
        base = table.get(("vigie", 1, processors))
        cells = []
        for hosts in HOSTS:
            v, b = table.get(("vigie", hosts, processors)), table.get(("bare", hosts, processors))
            if v and b and base:
                cells.append(f"{hosts} host(s): {v.rps / base.rps:.2f}x one host, "
                             f"{v.rps / b.rps:.2f}x bare")  # fmt: skip
        if cells:
            print(f"{processors} processor(s): " + "; ".join(cells))
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
