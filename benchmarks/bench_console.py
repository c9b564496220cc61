"""The console's overview and processor page under load, on a large registry with 30 days
of traffic.

Builds a SQLite instance: ``vigie.synth.load.synthesize`` of ``BENCH_CONSOLE_PEOPLE``
people (default 2,100,000, the OFII dump's size) and the 27 shipped providers, then 30
days of their ordinary reading ending today: on each of the 22 working days each
provider reads its ``expected_per_day`` people (about 1 % of its scope; a new slice of
the scope each day), one ``subject:read`` event per person (``BENCH_CONSOLE_PAGE``
people per event, default 1: the largest trail for the traffic) appended through
``append_many`` with the served index, and a checkpoint signed every 10,000 events. The
summaries the gateway and the detection pipeline keep as they serve are written for that
traffic: the day buckets (``gateway_days``: distinct people by their last day) and the
day windows (``detection_windows``: requests and distinct people per day). A few alerts
and two open incidents are added.

Then the console is served alone (``vigie serve --only console``, one process), an
operator signs in through the pages (password, TOTP), and a small httpx client sends
``BENCH_CONSOLE_REQUESTS`` requests (default 300) to ``/`` and to the busiest
provider's ``/processors/NAME``, one at a time and then from 4 threads at once, with
the session's cookie; p50/p95/p99 in ms. Target (issue 14): p95 < 200 ms.

Before the load, one view of each page is rendered in process with every SQL statement
recorded: the benchmark fails if a view reads the trail's tables (events, served index)
rather than the summaries.

Usage: ``python -m benchmarks console`` (``BENCH_CONSOLE_PEOPLE=200000`` for a quick run;
``BENCH_CONSOLE_DIR=DIR`` keeps the instance there and reuses it on the next run).

On PostgreSQL: ``BENCH_CONSOLE_DATABASE_URL=postgresql+psycopg://…/DB`` (a database of
its own, created empty beforehand; with ``BENCH_CONSOLE_DIR`` the built instance is
reused). With ``BENCH_CONSOLE_PROCESSES=N`` (default 1) N console processes are started,
each ``vigie serve --only console`` on its own port, and the clients are spread over them
as a load balancer would (client *i* on process *i* mod N; the session is in the store,
so one sign-in serves them all).
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pyotp
from sqlalchemy import Engine, event, func, select

from vigie.audit.actions import Action
from vigie.audit.checkpoints import Checkpointer, take
from vigie.audit.trail import NewEvent, append_many
from vigie.breach.incidents import open_incident
from vigie.console.app import create_app
from vigie.console.operators import add_operator, reset_second_factor
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.detection.models import ActivityWindow
from vigie.gateway.models import DayCount
from vigie.processors.models import Assignment, Contract, Processor
from vigie.secrets import ensure_secrets, load_secrets
from vigie.settings import Settings, isolated_settings
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade
from vigie.synth.load import synthesize

PASSWORD = "benchmark passphrase, not a secret"
LOGIN = "bench-dpo"
TRAIL_TABLES = re.compile(r"\b(audit_events|audit_disclosures|audit_receipts)\b")
TARGET_MS = 200.0
BATCH = 1000


def _settings(root: Path) -> Settings:
    url = os.environ.get("BENCH_CONSOLE_DATABASE_URL") or f"sqlite:///{root / 'vigie.db'}"
    return isolated_settings(data_dir=root, database_url=url)


def _build(root: Path, people: int, page: int) -> None:
    settings = _settings(root)
    ensure_secrets(settings.resolved_secrets_dir)
    secrets = load_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    start = time.perf_counter()
    report = synthesize(engine, people=people, seed=2026, actor="operator:bench")
    print(f"  registry: {people:,} people (+ canaries) in {time.perf_counter() - start:.1f} s")
    del report
    sessions = make_session_factory(engine)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=back) for back in range(29, -1, -1)]
    working = [d for d in days if d.weekday() < 5]
    with sessions() as s:
        plan = [
            (pid, name, int(expected or 0), list(fields))
            for pid, name, expected, fields in s.execute(
                select(
                    Processor.id, Processor.name, Contract.expected_per_day, Contract.read_fields
                )
                .join(Contract, Contract.processor_id == Processor.id)
                .order_by(Processor.id)
            )
        ]
    auto = Checkpointer(sessions=sessions, signing_key=secrets.signing_key, every_events=10_000)
    start = time.perf_counter()
    events = reads = 0
    buckets: Counter[tuple[int, date]] = Counter()
    windows: list[ActivityWindow] = []
    for pid, name, expected, fields in plan:
        if expected <= 0:
            continue
        with sessions() as s:
            scope = list(
                s.scalars(
                    select(Assignment.subject_id)
                    .where(Assignment.processor_id == pid)
                    .order_by(Assignment.subject_id)
                    .limit(expected * len(working))
                )
            )
        last: dict[int, date] = {}
        batch: list[NewEvent] = []
        for i, day in enumerate(working):
            cohort = scope[(i * expected) % max(1, len(scope)) :][:expected]
            at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
            for lo in range(0, len(cohort), page):
                batch.append(
                    NewEvent(
                        action=Action.SUBJECT_READ if page == 1 else Action.SUBJECT_LIST,
                        actor=f"processor:{name}/key:1",
                        processor_id=pid,
                        subject_ids=cohort[lo : lo + page],
                        fields=fields,
                        at=at,
                    )
                )
                if len(batch) >= BATCH:
                    with sessions.begin() as s:
                        events = append_many(s, batch)[-1]
                    auto.maybe_checkpoint()
                    batch = []
            for sid in cohort:
                last[sid] = day
            reads += len(cohort)
            windows.append(
                ActivityWindow(
                    processor_id=pid,
                    span="day",
                    start=at.replace(hour=0),
                    requests=(len(cohort) + page - 1) // page,
                    people=len(set(cohort)),
                    fresh=len(set(cohort)),
                )
            )
        if batch:
            with sessions.begin() as s:
                events = append_many(s, batch)[-1]
        for day in last.values():
            buckets[(pid, day)] += 1
    with sessions.begin() as s:
        take(s, signing_key=secrets.signing_key, actor="system:bench")
        s.add_all(DayCount(processor_id=p, day=d, people=n) for (p, d), n in buckets.items())
        s.add_all(windows)
        busiest = max(plan, key=lambda p: p[2])
        for n in range(20):
            raise_alert(
                s, detector="volume", severity=Severity.LOW, processor_id=plan[n % len(plan)][0],
                key_id=None, summary="A day above the provider's usual", evidence={"n": n},
                now=datetime.now(UTC) - timedelta(days=n),
            )  # fmt: skip
        for n in range(2):
            open_incident(
                s, title=f"Benchmark incident {n}", source="manual", actor="operator:bench",
                aware_at=datetime.now(UTC) - timedelta(hours=10 * n), processor_id=busiest[0],
            )  # fmt: skip
        add_operator(s, login=LOGIN, role="dpo", password=PASSWORD, language="en",
                     actor="operator:bench")  # fmt: skip
    took = time.perf_counter() - start
    print(
        f"  traffic: {reads:,} people read over {len(working)} working days by {len(plan)} "
        f"contracts, {events:,} audit events ({page} person(s) each), {took:.1f} s"
    )
    engine.dispose()


def _tables_read(settings: Settings, engine: Engine, login: str, secret: str) -> dict[str, Any]:
    """Render each page once in process, recording the SQL; refuse a view reading the trail."""
    secrets = load_secrets(settings.resolved_secrets_dir)
    app = create_app(settings, engine=engine, secrets=secrets)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    async def views(paths: list[str]) -> dict[str, list[str]]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as c:
            await _sign_in_async(c, login, secret)
            out = {}
            for path in paths:
                seen.clear()
                r = await c.get(path)
                assert r.status_code == 200, (path, r.status_code)
                out[path] = list(seen)
            return out

    event.listen(engine, "before_cursor_execute", record)
    try:
        return anyio.run(views, PAGES)  # type: ignore[arg-type]
    finally:
        event.remove(engine, "before_cursor_execute", record)


PAGES: list[str] = []


async def _sign_in_async(c: httpx.AsyncClient, login: str, secret: str) -> None:
    r = await c.post("/login", data={"login": login, "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = (await c.get("/login/second-factor")).text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    code = pyotp.TOTP(secret).now()
    r = await c.post("/login/second-factor", data={"code": code, "csrf": token.group(1)})
    assert r.status_code == 303, r.text


def _enrol(base: str) -> tuple[httpx.Client, str]:
    """Sign in through the served pages, enrolling TOTP; the client and the TOTP secret."""
    c = httpx.Client(base_url=base, timeout=60)
    r = c.post("/login", data={"login": LOGIN, "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = c.get("/login/second-factor").text
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert secret and token, "no enrolment in the page (operator already enrolled?)"
    r = c.post(
        "/login/second-factor",
        data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf": token.group(1)},
    )
    assert r.status_code == 303, r.text
    return c, secret.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return statistics.median(ordered) * 1000, at(0.95), at(0.99)


def _load(c: httpx.Client, bases: list[str], path: str, n: int, threads: int) -> list[float]:
    """``n`` GETs of ``path`` from ``threads`` clients, client *i* on ``bases[i % len]``."""
    samples: list[float] = []
    lock = threading.Lock()

    def run(count: int, base: str) -> None:
        client = httpx.Client(base_url=base, cookies=c.cookies, timeout=60)
        for _ in range(count):
            start = time.perf_counter()
            r = client.get(path)
            took = time.perf_counter() - start
            assert r.status_code == 200, (path, r.status_code)
            with lock:
                samples.append(took)
        client.close()

    workers = [
        threading.Thread(target=run, args=(n // threads, bases[i % len(bases)]))
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return samples


def main() -> None:
    people = int(os.environ.get("BENCH_CONSOLE_PEOPLE", "2100000"))
    page = int(os.environ.get("BENCH_CONSOLE_PAGE", "1"))
    requests = int(os.environ.get("BENCH_CONSOLE_REQUESTS", "300"))
    processes = int(os.environ.get("BENCH_CONSOLE_PROCESSES", "1"))
    kept = os.environ.get("BENCH_CONSOLE_DIR")
    tmp = None if kept else tempfile.TemporaryDirectory(prefix="bench-console-")
    root = Path(kept or tmp.name)  # type: ignore[union-attr]
    settings = _settings(root)
    kind = settings.resolved_database_url.split(":", 1)[0].split("+", 1)[0]
    print(f"console pages, {people:,} people, {kind}, {processes} console process(es), "
          f"load average {os.getloadavg()[0]:.1f} at start")  # fmt: skip
    built = root / "built"
    if not built.exists():
        root.mkdir(parents=True, exist_ok=True)
        _build(root, people, page)
        built.write_text(f"{people} people\n")
    engine = make_engine(settings.resolved_database_url)
    with make_session_factory(engine)() as s:
        busiest = s.scalars(
            select(Processor.name)
            .join(DayCount, DayCount.processor_id == Processor.id)
            .group_by(Processor.name)
            .order_by(func.sum(DayCount.people).desc())
            .limit(1)
        ).one()
    PAGES[:] = ["/", f"/processors/{busiest}"]
    with make_session_factory(engine).begin() as s:  # a reused instance: enrol afresh
        reset_second_factor(s, login=LOGIN, actor="operator:bench")

    env = dict(
        os.environ, VIGIE_DATA_DIR=str(root), VIGIE_DATABASE_URL=settings.resolved_database_url
    )
    env.pop("VIGIE_LOG_LEVEL", None)
    vigie = Path(sys.executable).with_name("vigie")
    ports = [_free_port() for _ in range(processes)]
    servers = [
        subprocess.Popen(
            [str(vigie), "serve", "--only", "console", "--console-port", str(port), "--no-worker"],
            env={**env, "VIGIE_LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 180
        for base, server in zip(bases, servers, strict=True):
            while True:
                try:
                    if httpx.get(base + "/login", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, "no console"
                time.sleep(0.5)
        client, secret = _enrol(bases[0])
        time.sleep(31)  # a TOTP code is good once: the in-process sign-in needs the next one
        statements = _tables_read(settings, engine, LOGIN, secret)
        for path, sql in statements.items():
            trail = sorted({m for s in sql for m in TRAIL_TABLES.findall(s)})
            print(f"  {path}: {len(sql)} SQL statements per view; trail tables read: "
                  f"{', '.join(trail) or 'none'}")  # fmt: skip
            assert not trail, f"{path} reads the trail per view: {trail}"
        for path in PAGES:
            _load(client, bases, path, 10 * processes, processes)  # warm-up, each process
            for threads in (1, 4):
                samples = _load(client, bases, path, requests, threads)
                p50, p95, p99 = _percentiles(samples)
                verdict = "meets" if p95 < TARGET_MS else "MISSES"
                print(f"  {path:<28} {threads} client(s): p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                      f"p99 {p99:7.1f} ms  ({len(samples)} requests; {verdict} p95 < "
                      f"{TARGET_MS:.0f} ms)")  # fmt: skip
        print(f"  load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
        engine.dispose()
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
