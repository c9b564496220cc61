"""The self-check's timing: known and unknown contacts over the real server.

``vigie serve --only public`` on loopback (one worker, limits on, with ceilings high
enough not to refuse), an SMTP server on loopback taking the messages. 1,000 people are
in the registry, 500 of them exposed in an incident. ``BENCH_PUBLIC_REQUESTS`` (default
1,500) self-checks are sent for contacts on file (each person at most a few times, under
the daily cap) and as many for contacts nobody has, in one random interleaving, one at a
time on a kept-alive connection. The two latency distributions are compared (median,
p90, p99, mean, two-sample Kolmogorov-Smirnov), the pages byte for byte, and the SMTP
server's count says the answers did go out, off the request path.

Then the throughput (``wrk -t1 -c8``, 10 s per run after a 2 s warm-up, one worker,
limits on), with the listener process's CPU time per request (from /proc: it holds on a
shared machine, where requests/s depends on what else runs; its inverse is what one core
would serve): ``POST /json/verify`` (unknown and malformed codes), ``POST /json/self-check``
and ``POST /json/disclosure-report`` (contacts nobody has: each request queues a job),
against ``GET /static/public.css`` served by the same stack (the ceiling); first with the
job worker ``vigie serve`` starts alongside (it answers the queued requests meanwhile),
then the self-check again with ``--no-worker`` (the request path alone).

Usage: ``python -m benchmarks public`` (``BENCH_PUBLIC_PARTS=timing`` or ``throughput``
for one part).
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from vigie.breach import incidents
from vigie.registry.models import Subject
from vigie.secrets import ensure_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade

REQUESTS = int(os.environ.get("BENCH_PUBLIC_REQUESTS", "1500"))
PEOPLE = 1000
T0 = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _instance(root: Path) -> Settings:
    settings = Settings(data_dir=root / "data")
    settings.data_dir.mkdir(parents=True)
    ensure_secrets(settings.resolved_secrets_dir)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as s:
        people = [
            Subject(
                ref=f"CIR-2025-{i:06d}", given_name="Awa", family_name=f"Example{i}",
                birth_date=date(1990, 1, 1), sex="F", birth_country="AFG", nationality="AFG",
                preferred_language=random.choice(["fr", "en", "ar", "prs", "uk"]),
                email=f"person{i}@example.org", phone=None, address_line=f"{i} rue de l'Exemple",
                postal_code="75011", city="Paris", region="11", entry_date=date(2024, 3, 1),
                residence_reason="asylum", residence_status="refugee",
                cir_signed_on=date(2024, 6, 1), course_hours=200, course_level="A1",
                valid_from=T0,
            )
            for i in range(PEOPLE)
        ]  # fmt: skip
        s.add_all(people)
        s.flush()
        inc = incidents.open_incident(s, title="leak", source="leak", aware_at=T0,
                                      actor="operator:bench")  # fmt: skip
        exposed = {p.id: ["given_name", "email", "nationality"] for p in people[: PEOPLE // 2]}
        incidents.record_exposure(s, incident_id=inc.id, exposures=exposed, actor="operator:bench")
    engine.dispose()
    return settings


def _ks(a: list[float], b: list[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic D and its asymptotic p-value."""
    xs, ys = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(xs) and j < len(ys):
        if xs[i] <= ys[j]:
            i += 1
        else:
            j += 1
        d = max(d, abs(i / len(xs) - j / len(ys)))
    n = len(xs) * len(ys) / (len(xs) + len(ys))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, min(1.0, max(0.0, p))


def _summary(name: str, xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=100)
    ms = [v * 1000 for v in (statistics.median(xs), q[89], q[98], statistics.fmean(xs))]
    figures = f"median {ms[0]:.2f} ms  p90 {ms[1]:.2f}  p99 {ms[2]:.2f}  mean {ms[3]:.2f}"
    return f"{name:8} n={len(xs)}  {figures}"


def main() -> None:
    parts = os.environ.get("BENCH_PUBLIC_PARTS", "timing,throughput").split(",")
    if "timing" in parts:
        timing()
    if "throughput" in parts:
        throughput()


WRK_POST = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% #bodies) + 1])
end
"""


Result = tuple[float, float, float, int, float]  # req/s, p50 ms, p99 ms, non-2xx, CPU µs/req


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the listener's worker process, threads included)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        if children.exists():
            todo += [int(c) for c in children.read_text().split()]
    return out


def _wrk(
    url: str, script: Path | None, seconds: int = 10, server: list[int] | None = None
) -> Result:
    """(requests/s, p50 ms, p99 ms, non-2xx, server CPU µs per request) of ``wrk -t1 -c8``
    against ``url``. The CPU time per request (the listener's processes, from /proc) holds
    on a shared machine where requests/s depends on what else runs."""
    args = ["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", url]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    before = _cpu_seconds(server or [])
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    used = _cpu_seconds(server or []) - before
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, pct("50"), pct("99"), int(bad.group(1)) if bad else 0, 1e6 * used / max(count, 1)


def _serve_and_measure(
    env: dict[str, str], port: int, runs: dict[str, tuple[str, Path | None]], worker: str
) -> dict[str, Result]:
    vigie = Path(sys.executable).with_name("vigie")
    server = subprocess.Popen(
        [str(vigie), "serve", "--only", "public", "--public-port", str(port),
         "--log-level", "warning", *([worker] if worker else [])],
        env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    results = {}
    try:
        for _ in range(600):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        listener = [p for p in _tree(server.pid) if p != server.pid]  # not the job worker's
        listener = [p for p in listener if "worker" not in Path(f"/proc/{p}/cmdline").read_text()]
        for name, (url, script) in runs.items():
            _wrk(url, script, seconds=2)  # warm-up
            results[name] = _wrk(url, script, server=listener)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return results


def throughput() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = _instance(root)
        env = dict(os.environ)
        env.update(
            VIGIE_DATA_DIR=str(settings.data_dir), VIGIE_SMTP_PORT=str(_free_port()),
            VIGIE_PUBLIC_RATE_PER_ADDRESS="100000000/minute",
            VIGIE_PUBLIC_RATE_GLOBAL="100000000/minute",
        )  # fmt: skip
        verify = root / "verify.lua"
        codes = ", ".join(f'\'{{"code":"{c}"}}\'' for c in ("ZZZZ-ZZZZ", "7K3M-Q9PX", "hello"))
        verify.write_text(WRK_POST % codes)
        selfcheck = root / "selfcheck.lua"
        contacts = ", ".join(f'\'{{"contact":"nobody{i}@example.org"}}\'' for i in range(50))
        selfcheck.write_text(WRK_POST % contacts)
        report = root / "report.lua"
        report.write_text(WRK_POST % contacts)
        results = {}
        # As `vigie serve` runs it (a job worker alongside, answering the queued requests),
        # then the request path alone (`--no-worker`: the queue only grows).
        for worker in ("", "--no-worker"):
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            runs = {
                "GET /static/public.css": (base + "/static/public.css", None),
                "POST /json/verify": (base + "/json/verify", verify),
                "POST /json/self-check": (base + "/json/self-check", selfcheck),
                "POST /json/disclosure-report": (base + "/json/disclosure-report", report),
            }
            if worker:
                runs = {f"{k} (no worker)": v for k, v in runs.items() if "json/s" in k}
            results.update(_serve_and_measure(env, port, runs, worker))
    ceiling = results["GET /static/public.css"][0]
    cpu_ceiling = results["GET /static/public.css"][4]
    print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for name, (rps, p50, p99, bad, cpu) in results.items():
        print(f"{name:<42} {rps:8,.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
              f"non-2xx {bad:,}  ({rps / ceiling:.2f}x the static file)  "
              f"CPU {cpu:5.0f} us/request ({cpu_ceiling / cpu:.2f}x)")  # fmt: skip


def timing() -> None:
    random.seed(15)
    with tempfile.TemporaryDirectory() as tmp:
        settings = _instance(Path(tmp))
        sink = _Sink()
        smtp_port, port = _free_port(), _free_port()
        smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)  # type: ignore[arg-type]
        smtp.start()
        env = dict(os.environ)
        env.update(
            VIGIE_DATA_DIR=str(settings.data_dir), VIGIE_SMTP_PORT=str(smtp_port),
            VIGIE_PUBLIC_RATE_PER_ADDRESS="1000000/minute",
            VIGIE_PUBLIC_RATE_GLOBAL="1000000/minute", VIGIE_PUBLIC_MESSAGES_PER_CONTACT="5/day",
        )  # fmt: skip
        vigie = Path(sys.executable).with_name("vigie")
        server = subprocess.Popen(
            [str(vigie), "serve", "--only", "public", "--public-port", str(port),
             "--log-level", "warning"], env=env, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    httpx.get(base + "/", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            known = [f"person{i % PEOPLE}@example.org" for i in range(REQUESTS)]
            unknown = [f"nobody{i}@example.org" for i in range(REQUESTS)]
            plan = [("known", c) for c in known] + [("unknown", c) for c in unknown]
            random.shuffle(plan)
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            bodies: dict[str, set[bytes]] = {"known": set(), "unknown": set()}
            with httpx.Client(base_url=base, timeout=30) as client:
                for i in range(200):  # warm-up, not counted
                    client.post("/self-check", data={"contact": f"warm{i}@example.org"})
                for kind, contact in plan:
                    start = time.perf_counter()
                    r = client.post("/self-check", data={"contact": contact, "lang": "fr"})
                    times[kind].append(time.perf_counter() - start)
                    assert r.status_code == 200, r.status_code
                    bodies[kind].add(r.content)
            deadline = time.monotonic() + 600
            expected = REQUESTS  # each known request is one message (one incident or none)
            while sink.count < expected and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=60)
            smtp.stop()
    d, p = _ks(times["known"], times["unknown"])
    print(_summary("known", times["known"]))
    print(_summary("unknown", times["unknown"]))
    print(f"Kolmogorov-Smirnov D = {d:.4f}, p = {p:.3f}")
    print(f"distinct pages: known {len(bodies['known'])}, unknown {len(bodies['unknown'])}, "
          f"identical: {bodies['known'] == bodies['unknown']}")  # fmt: skip
    print(f"messages received by the SMTP server: {sink.count} (expected {expected})")
