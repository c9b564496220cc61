"""The processor gateway over HTTP against two peers, on the OFII-scale synthetic registry.

Three servers answer the same two request kinds over real HTTP on loopback, driven by the
same load tool (``wrk``, one thread, ``BENCH_CONNECTIONS`` connections, random paths from
the same sample of people):

1. **Vigie's gateway** (``create_app``: key check, rate count, scope, fields, masks,
   budget ledger, audit append with the served index, checkpointer; one uvicorn worker,
   and a second run with two workers);
2. **Datasette** serving the same SQLite file (a peer JSON API with none of those
   protections; ``_shape=array&_nocount=1``, its fastest form);
3. **a bare ASGI app**: the SQL query and orjson encoding, nothing else (the ceiling for
   a Python stack).

Request kinds: one person by identifier; a 100-person page at a random position (keyset).

The registry is built once by ``vigie.synth.load.synthesize`` (``BENCH_PEOPLE``, default
2,100,000) under ``BENCH_DIR`` (default: the temp directory) and reused by later runs.
Usage: ``python -m benchmarks gateway`` (``BENCH_PEOPLE=200000`` for a quick run,
``BENCH_SECONDS`` per measurement, default 10; ``BENCH_SERVERS`` among
``vigie,datasette,bare,vigie2``; ``BENCH_SRC``: a ``src`` directory the servers import
Vigie from, to measure another version with the same script; default: this checkout's
``src``, as ``PYTHONPATH=$PWD/src`` gives the benchmark itself). Each run reports
the server's CPU time per answer (``/proc``, HTTP included), and :func:`in_process` the
same requests sent straight to the ASGI app (no HTTP, no server): CPU per answer, and
the part spent on the event loop (routing, listener layer, response) apart from the
unit of work's writer thread; :func:`group_cost` the writer thread's CPU per answer for
groups of four requests committed together, whose low quantiles hold on a loaded machine.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.bench_fleet import _cpu_seconds

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "2100000"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
ROOT = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir())) / f"vigie-bench-gateway-{PEOPLE}"
PROCESSOR = "lingua-idf"
SAMPLE = 20_000
PAGE = 100
HUGE = 2_000_000_000
_CHECKOUT = Path(__file__).resolve().parents[1]

LUA = """
local paths = {}
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  if args[2] ~= nil and args[2] ~= "" then wrk.headers["Authorization"] = "Bearer " .. args[2] end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


# --- the two app factories uvicorn loads in the server processes -------------------------


def vigie_app() -> Any:
    """The gateway as ``vigie serve`` builds it, minus the detection pipeline."""
    from vigie.gateway.app import create_app
    from vigie.gateway.wiring import default_after_commit
    from vigie.secrets import load_secrets
    from vigie.settings import Settings
    from vigie.store.engine import make_engine

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    secrets = load_secrets(settings.resolved_secrets_dir)
    hooks = default_after_commit(settings, engine, secrets=secrets)
    return create_app(settings, engine=engine, secrets=secrets, after_commit=hooks)


def bare_app() -> Any:
    """A raw ASGI app: one SQL query and orjson, nothing else (the ceiling)."""
    db = os.environ["BENCH_DB"]
    cols = os.environ["BENCH_COLUMNS"]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    names = cols.split(", ")
    one_sql = f"SELECT id, {cols} FROM subjects WHERE id = ?"
    page_sql = f"SELECT id, {cols} FROM subjects WHERE id > ? ORDER BY id LIMIT {PAGE}"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/subjects/"):
            row = conn.execute(one_sql, (int(path[10:]),)).fetchone()
            body = orjson.dumps({k: row[k] for k in ("id", *names)}) if row else b"{}"
        else:
            after = int(scope["query_string"].decode().partition("=")[2] or 0)
            rows = conn.execute(page_sql, (after,)).fetchall()
            body = orjson.dumps({"data": [{k: r[k] for k in ("id", *names)} for r in rows]})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


# --- preparing the registry, the key and the request paths --------------------------------


@dataclass(frozen=True)
class Prepared:
    data_dir: Path
    db: Path
    token: str
    columns: list[str]
    paths: dict[str, Path]  # "<server>-<kind>" -> file of request paths


def _build_registry(data_dir: Path) -> None:
    from vigie.secrets import ensure_secrets
    from vigie.store.engine import make_engine
    from vigie.store.migrate import upgrade
    from vigie.synth.load import synthesize

    if (data_dir / "ready").exists():
        return
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    ensure_secrets(data_dir / "secrets")
    engine = make_engine(f"sqlite:///{data_dir / 'vigie.db'}")
    upgrade(engine)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        print(f"\r  building the registry: {done:,}/{total:,} people", end="", flush=True)

    report = synthesize(engine, people=PEOPLE, seed=2026, progress=progress)
    engine.dispose()
    took = time.perf_counter() - started
    print(f"\n  registry built in {took:.1f} s ({report.assignments:,} assignments)")
    (data_dir / "ready").write_text("ok")


def prepare() -> Prepared:
    from sqlalchemy import select, text

    from vigie.fingerprint.pseudonyms import Pseudonymiser
    from vigie.gateway.cursor import CursorCodec
    from vigie.processors.keys import issue_key
    from vigie.processors.models import Contract, Processor
    from vigie.secrets import load_secrets
    from vigie.store.engine import make_engine, make_session_factory
    from vigie.store.models import load_metadata

    data_dir = ROOT / "data"
    _build_registry(data_dir)
    db = data_dir / "vigie.db"
    engine = make_engine(f"sqlite:///{db}")
    # A registry cached by an earlier run may predate tables added since (pre-release,
    # the schema is one regenerated migration): create whatever is missing.
    load_metadata().create_all(engine)
    sessions = make_session_factory(engine)
    secrets = load_secrets(data_dir / "secrets")
    with sessions.begin() as s:
        processor = s.scalars(select(Processor).where(Processor.name == PROCESSOR)).one()
        contract = s.scalars(select(Contract).where(Contract.processor_id == processor.id)).first()
        assert contract is not None
        # Budgets that never bind: the ledger still counts every person, as in production.
        for c in s.scalars(select(Contract).where(Contract.processor_id == processor.id)):
            c.budget_per_day = c.budget_per_30_days = c.rate_per_minute = HUGE
        processor.suspended_at = None
        token = issue_key(s, processor=PROCESSOR, actor="operator:bench").token
        columns = [f for f in contract.read_fields if f != "pseudonym"]
        pid = processor.id
        ids = [
            int(r[0])
            for r in s.execute(
                text(
                    "SELECT subject_id FROM assignments WHERE processor_id = :p "
                    "ORDER BY random() LIMIT :n"
                ),
                {"p": pid, "n": SAMPLE},
            )
        ]
    engine.dispose()
    pseudo = Pseudonymiser(secrets, pid)
    cursors = CursorCodec(secrets, ttl_seconds=86_400)
    now = datetime.now(UTC) - timedelta(minutes=1)
    work = ROOT / "paths"
    work.mkdir(exist_ok=True)
    lines = {
        "vigie-read": [f"/api/v1/subjects/{pseudo.encode(i)}" for i in ids],
        "vigie-page": [
            f"/api/v1/subjects?limit={PAGE}&cursor="
            + cursors.encode(pseudonymiser=pseudo, after_subject_id=i, now=now)
            for i in ids
        ],
        "datasette-read": [f"/vigie/subjects/{i}.json?_shape=array" for i in ids],
        "datasette-page": [
            f"/vigie/subjects.json?_size={PAGE}&_next={i}&_shape=array&_nocount=1&_nofacet=1"
            for i in ids
        ],
        "bare-read": [f"/subjects/{i}" for i in ids],
        "bare-page": [f"/subjects?after={i}" for i in ids],
    }
    paths = {}
    for name, entries in lines.items():
        paths[name] = work / f"{name}.txt"
        paths[name].write_text("\n".join(entries) + "\n")
    return Prepared(data_dir, db, token, columns, paths)


# --- servers and load ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(kind: str, prep: Prepared, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        VIGIE_DATA_DIR=str(prep.data_dir),
        BENCH_DB=str(prep.db),
        BENCH_COLUMNS=", ".join(prep.columns),
        # The servers import Vigie from BENCH_SRC if given, else from this checkout's src
        # (not from wherever the venv's editable install points: another worktree's).
        PYTHONPATH=os.pathsep.join(
            [os.environ.get("BENCH_SRC") or str(_CHECKOUT / "src"), str(_CHECKOUT)]
        ),
    )
    py = sys.executable
    uvicorn = [py, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log", "--workers", str(workers)]  # fmt: skip
    if kind == "vigie":
        cmd = [*uvicorn, "benchmarks.bench_gateway:vigie_app"]
    elif kind == "bare":
        cmd = [*uvicorn, "benchmarks.bench_gateway:bare_app"]
    else:
        cmd = [py, "-m", "datasette", "serve", str(prep.db), "--host", "127.0.0.1",
               "--port", str(port), "--setting", "sql_time_limit_ms", "10000"]  # fmt: skip
    # The server's stderr goes to a file: an unread pipe fills up and stalls the server.
    log = (ROOT / f"{kind}-{port}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    log.close()
    probe = {"vigie": "/api/v1/health", "bare": "/subjects/1", "datasette": "/-/versions.json"}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = (ROOT / f"{kind}-{port}.log").read_text()[-2000:]
            raise RuntimeError(f"{kind} server died: {text}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{probe[kind]}", timeout=5).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int  # wrk's connect/read/write errors and timeouts (> 2 s)
    cpu_us: float = 0.0  # the server's CPU (user + system, /proc) per answer, HTTP included


def _wrk(port: int, paths: Path, token: str, seconds: int) -> Run:
    script = ROOT / "random-paths.lua"
    script.write_text(LUA)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(paths),
            token,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def pct(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * _UNITS[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Run(rps, pct("50"), pct("99"), int(bad.group(1)) if bad else 0, sockets)


def _measure(kind: str, prep: Prepared, workers: int = 1) -> dict[str, Run]:
    port = _free_port()
    server = _start(kind, prep, port, workers)
    try:
        results = {}
        for request in ("read", "page"):
            paths = prep.paths[f"{kind}-{request}"]
            token = prep.token if kind == "vigie" else ""
            _wrk(port, paths, token, 2)  # warm-up: caches, connection pools
            cpu = _cpu_seconds(server.pid)
            run = _wrk(port, paths, token, SECONDS)
            used = _cpu_seconds(server.pid) - cpu
            results[request] = replace(run, cpu_us=used / max(1.0, run.rps * SECONDS) * 1e6)
        return results
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        failures = (ROOT / f"{kind}-{port}.log").read_text(errors="replace").count("Traceback")
        if failures:
            print(f"  WARNING: {kind} logged {failures} tracebacks (see {ROOT}/{kind}-{port}.log)")


def breakdown(prep: Prepared, n: int = 300, *, page: int = 1) -> dict[str, float]:
    """Mean milliseconds per phase of a read (``page=1``) or a page, in process (no HTTP).

    The phases of :class:`vigie.gateway.unit.UnitOfWork` with ``disclose``'s steps taken
    apart: the same library calls, timed one by one, in transactions on the writer's kept
    connection (:class:`vigie.gateway.writer.WriterConnection`) as on SQLite.
    """
    from vigie.audit import trail
    from vigie.audit.actions import Action
    from vigie.gateway import budget, scope
    from vigie.gateway.caller import identify
    from vigie.gateway.cursor import CursorCodec
    from vigie.gateway.disclose import Gate
    from vigie.gateway.writer import WriterConnection
    from vigie.secrets import load_secrets
    from vigie.store.engine import make_engine

    engine = make_engine(f"sqlite:///{prep.db}")
    writer = WriterConnection(engine)
    secrets = load_secrets(prep.data_dir / "secrets")
    gate = Gate(secrets=secrets, cursors=CursorCodec(secrets, ttl_seconds=60), max_page_size=1000)
    ids = [int(line.rsplit("/", 1)[1]) for line in prep.paths["bare-read"].read_text().split()]
    phases: dict[str, float] = {}

    def tick(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + (now - since)
        return now

    for sid in ids[:n]:
        at = datetime.now(UTC)
        t = time.perf_counter()
        with writer.begin() as s:
            t = tick("begin transaction", t)
            who = identify(s, token=prep.token, client_ip="127.0.0.1", now=at)
            t = tick("key, processor, contracts (one statement)", t)
            pid, contract = who.key.processor_id, who.contracts[0]
            view = contract.view
            budget.count_request(s, processor_id=pid, now=at, budget=view.budget)
            t = tick("rate count (row lock)", t)
            fields = view.read_fields - {"pseudonym"}
            if page == 1:
                person = scope.one_in_scope(
                    s, processor_id=pid, contract_ids=[contract.id], subject_id=sid,
                    on=at.date(), fields=fields,
                )  # fmt: skip
                assert person is not None
                subject_ids = [person.subject_id]
            else:
                people, _ = scope.page_in_scope(
                    s, processor_id=pid, contract_ids=[contract.id], after=sid - 1,
                    limit=page, on=at.date(), fields=fields,
                )  # fmt: skip
                subject_ids = people.subject_ids
            t = tick("scope query", t)
            budget.charge(s, processor_id=pid, subject_ids=subject_ids, now=at,
                          budget=view.budget)  # fmt: skip
            t = tick("budget ledger", t)
            names = gate.pseudonymiser(pid).encode_many(subject_ids)
            if page == 1:
                records = [view.project(person.row, pseudonym=names[0])]
            else:
                records = view.project_many(people.names, people.rows, pseudonyms=names)
            body = orjson.dumps(records)
            t = tick("projection, masks, pseudonyms, JSON", t)
            trail.append(
                s, action=Action.SUBJECT_LIST, actor=who.key.actor, processor_id=pid,
                key_id=who.key.key_id, subject_ids=subject_ids,
                fields=sorted({k for r in records for k in r}), at=at,
            )  # fmt: skip
            t = tick("audit append (audit.trail)", t)
        tick("commit", t)
        assert body
    writer.close()
    engine.dispose()
    return {name: total / n * 1000 for name, total in phases.items()}


def in_process(
    prep: Prepared, request: str, n: int = 2000, clients: int = 8
) -> tuple[float, float]:
    """CPU µs per answer of the gateway app called over ASGI in this process, ``clients``
    concurrent requests at a time (group commit on SQLite), and the event loop's share."""
    import asyncio
    import random

    os.environ["VIGIE_DATA_DIR"] = str(prep.data_dir)
    app = vigie_app()
    paths = prep.paths[f"vigie-{request}"].read_text().split()
    auth = (b"authorization", b"Bearer " + prep.token.encode())
    failed = 0

    async def one(target: str) -> None:
        nonlocal failed
        path, _, query = target.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "headers": [auth],
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
        }  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal failed
            if message["type"] == "http.response.start" and message["status"] != 200:
                failed += 1

        await app(scope, receive, send)

    async def client(k: int) -> None:
        for _ in range(k):
            await one(random.choice(paths))

    async def run() -> tuple[float, float]:
        await asyncio.gather(*(client(20) for _ in range(clients)))  # warm-up
        per = n // clients
        cpu, loop = time.process_time(), time.thread_time()
        await asyncio.gather(*(client(per) for _ in range(clients)))
        done = per * clients
        return (
            (time.process_time() - cpu) / done * 1e6,
            (time.thread_time() - loop) / done * 1e6,
        )

    result = asyncio.run(run())
    assert failed == 0, f"{failed} answers were not 200"
    return result


def group_cost(prep: Prepared, request: str, groups: int, size: int = 4) -> list[float]:
    """CPU µs per answer of the writer thread's work for groups of ``size`` requests run
    together (``UnitOfWork._together``: one transaction, one commit), sorted: the low
    quantiles move little with the machine's load, unlike throughput."""
    import random
    from urllib.parse import parse_qsl

    from starlette.requests import Request

    from vigie.gateway.cursor import CursorCodec
    from vigie.gateway.disclose import Gate
    from vigie.gateway.lean import list_work, read_work
    from vigie.gateway.unit import UnitOfWork, _Waiting
    from vigie.secrets import load_secrets
    from vigie.store.engine import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{prep.db}")
    secrets = load_secrets(prep.data_dir / "secrets")
    gate = Gate(secrets=secrets, cursors=CursorCodec(secrets, ttl_seconds=3600), max_page_size=1000)
    uow = UnitOfWork(make_session_factory(engine), gate, lambda: datetime.now(UTC), grouped=True)
    paths = prep.paths[f"vigie-{request}"].read_text().split()

    def waiting(target: str) -> Any:
        path, _, query = target.partition("?")
        scope = {
            "type": "http", "method": "GET", "path": path, "query_string": query.encode(),
            "headers": [], "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000),
            "scheme": "http", "root_path": "",
        }  # fmt: skip
        if request == "read":
            work = read_work(gate, path.rsplit("/", 1)[1])
        else:
            q = dict(parse_qsl(query))
            work = list_work(gate, int(q.get("limit", PAGE)), q.get("cursor"))
        now = datetime.now(UTC)
        return _Waiting(Request(scope), request, prep.token, work, 200, now, None)  # type: ignore[arg-type]

    costs = []
    for _ in range(groups):
        group = [waiting(random.choice(paths)) for _ in range(size)]
        started = time.thread_time()
        answers = uow._together(group)
        costs.append((time.thread_time() - started) / size * 1e6)
        assert answers is not None and all(a.status_code == 200 for a in answers)
    engine.dispose()
    return sorted(costs)


def statement_overhead(prep: Prepared, n: int = 3000) -> dict[str, float]:
    """Microseconds per trivial statement: ORM session, Core connection, raw sqlite3."""
    from sqlalchemy import text

    from vigie.store.engine import make_engine, make_session_factory

    engine = make_engine(f"sqlite:///{prep.db}")
    query = text("SELECT 1 WHERE :a = 1")
    out: dict[str, float] = {}
    with make_session_factory(engine).begin() as session:
        conn = session.connection()
        raw = conn.connection.driver_connection
        assert raw is not None
        runs = {
            "session.execute(text)": lambda: session.execute(query, {"a": 1}).all(),
            "connection.execute(text)": lambda: conn.execute(query, {"a": 1}).all(),
            "raw sqlite3 cursor": lambda: raw.execute("SELECT 1 WHERE ? = 1", (1,)).fetchall(),
        }
        for name, run in runs.items():
            for _ in range(200):
                run()
            start = time.perf_counter()
            for _ in range(n):
                run()
            out[name] = (time.perf_counter() - start) / n * 1e6
    engine.dispose()
    return out


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    print(f"registry: {PEOPLE:,} people; {CONNECTIONS} connections, {SECONDS} s per run")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    prep = prepare()
    table: dict[str, dict[str, Run]] = {}
    chosen = os.environ.get("BENCH_SERVERS", "vigie,datasette,bare,vigie2").split(",")
    for label, kind, workers in (
        ("Vigie gateway (1 worker)", "vigie", 1),
        ("Datasette", "datasette", 1),
        ("bare ASGI + SQL + orjson", "bare", 1),
        ("Vigie gateway (2 workers)", "vigie", 2),
    ):
        if (kind if workers == 1 else f"{kind}{workers}") not in chosen:
            continue
        table[label] = _measure(kind, prep, workers)
        for request, run in table[label].items():
            print(
                f"  {label:<28} {request:<5} {run.rps:9,.0f} req/s  p50 {run.p50_ms:8.2f} ms"
                f"  p99 {run.p99_ms:8.2f} ms  CPU {run.cpu_us:7.0f} µs/answer"
                f"  non-2xx {run.non_2xx}"
                f"  socket errors {run.socket_errors}"
            )
    for size in (1, PAGE):
        what = "a single-person read" if size == 1 else f"a {size}-person page"
        print(f"  where {what} spends its time (in process, sequential, mean ms):")
        phases = breakdown(prep, page=size)
        for name, ms in phases.items():
            print(f"    {name:<42} {ms:7.3f} ms")
        print(f"    {'total':<42} {sum(phases.values()):7.3f} ms")
    for request, n in (("read", 2000), ("page", 300)):
        cpu, loop = in_process(prep, request, n)
        print(
            f"  in process, 8 concurrent clients, {request}: CPU {cpu:6.0f} µs/answer, "
            f"of which the event loop {loop:5.0f} µs (load average {os.getloadavg()[0]:.1f})"
        )
    for request, groups in (("read", 400), ("page", 80)):
        costs = group_cost(prep, request, groups)
        print(
            f"  writer thread, groups of 4 {request}s run together: CPU per answer "
            f"min {costs[0]:.0f} µs, p10 {costs[len(costs) // 10]:.0f}, "
            f"median {costs[len(costs) // 2]:.0f} (load average {os.getloadavg()[0]:.1f})"
        )
    print("  cost of one trivial statement (mean µs):")
    for name, us in statement_overhead(prep).items():
        print(f"    {name:<40} {us:7.1f} µs")
    if not {"vigie", "datasette", "bare"} <= set(chosen):
        return
    vigie, peer, bare = (
        table["Vigie gateway (1 worker)"],
        table["Datasette"],
        table["bare ASGI + SQL + orjson"],
    )
    for request in ("read", "page"):
        people = 1 if request == "read" else PAGE
        print(
            f"  {request}: Vigie/Datasette {vigie[request].rps / peer[request].rps:.2f}x "
            f"(target >= 3x), Vigie/bare {vigie[request].rps / bare[request].rps:.2f}x "
            f"(target >= 0.5x); {vigie[request].rps * people:,.0f} people/s disclosed"
        )


if __name__ == "__main__":
    main()
