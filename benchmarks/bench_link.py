"""The simulated link of the fleet benchmark: what the delaying forwarder costs and adds.

The hosts benchmark (:mod:`benchmarks.bench_hosts`) reaches PostgreSQL through
:mod:`tests.delay_proxy`, which runs on the same cores as the servers it measures: its
CPU is taken from them. This measures it alone: an echo server behind the forwarder
(``BENCH_DELAY_MS`` each way, default 0.5), ``C`` connections each doing ping-pong
round trips of a 200-byte message (as a gateway's statements are) for ``BENCH_SECONDS``
(default 5) — reported: round trips/s, the forwarder's CPU (user + system) per round
trip, and the round trip's min / median / p99 latency, with the delay it must add
(2 × the delay each way) and the direct round trip for comparison.

``BENCH_PROXY`` names another forwarder script to measure with the same client (e.g. an
older ``delay_proxy.py`` checked out beside), ``BENCH_CONNECTIONS`` the connection counts
(default ``1,16,64``).

Usage: ``python -m benchmarks link``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

DELAY_MS = float(os.environ.get("BENCH_DELAY_MS", "0.5"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = [int(n) for n in os.environ.get("BENCH_CONNECTIONS", "1,16,64").split(",")]
MESSAGE = b"x" * 200
ROOT = Path(__file__).resolve().parents[1]


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    """An echo server on loopback, a thread per connection (it is not what is measured)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=256)

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return listener, thread


def _start_proxy(upstream: int) -> tuple[subprocess.Popen[bytes], int]:
    script = os.environ.get("BENCH_PROXY")
    target = [script] if script else ["-m", "tests.delay_proxy"]
    proxy = subprocess.Popen(
        [sys.executable, *target, "--listen", "127.0.0.1:0",
         "--upstream", f"127.0.0.1:{upstream}", "--delay-ms", str(DELAY_MS)],
        cwd=ROOT, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proxy.stdout is not None
    line = proxy.stdout.readline().split()
    if not line or line[0] != b"ready":
        raise RuntimeError("the forwarder did not start")
    return proxy, int(line[1])


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ping_pong(port: int, until: float, out: list[float]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.monotonic() < until:
            t0 = time.perf_counter()
            s.sendall(MESSAGE)
            got = 0
            while got < len(MESSAGE):
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("the link closed the connection")
                got += len(chunk)
            out.append(time.perf_counter() - t0)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(port: int, connections: int, pid: int | None) -> tuple[float, float, list[float]]:
    """Round trips/s, CPU µs per round trip of ``pid`` (0 if None), and the latencies."""
    until = time.monotonic() + SECONDS
    results: list[list[float]] = [[] for _ in range(connections)]
    threads = [
        threading.Thread(target=_ping_pong, args=(port, until, results[i]))
        for i in range(connections)
    ]
    cpu0 = _cpu(pid) if pid else 0.0
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = (_cpu(pid) - cpu0) if pid else 0.0
    lat = [x for r in results for x in r]
    return len(lat) / wall, cpu / len(lat) * 1e6, lat


def main() -> None:
    listener, _ = _echo_server()
    upstream = listener.getsockname()[1]
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared with other work)")
    print(f"forwarder: {os.environ.get('BENCH_PROXY', 'tests/delay_proxy.py')}, "
          f"{DELAY_MS} ms each way (round trip must take ≥ {2 * DELAY_MS:.1f} ms)")  # fmt: skip
    print("| path | connections | round trips/s | forwarder CPU µs/round trip "
          "| min ms | median ms | p99 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    rate, _, lat = measure(upstream, 1, None)
    print(f"| direct | 1 | {rate:,.0f} | — | {min(lat) * 1e3:.3f} | {_pct(lat, 0.5) * 1e3:.3f} "
          f"| {_pct(lat, 0.99) * 1e3:.3f} |", flush=True)  # fmt: skip
    proxy, port = _start_proxy(upstream)
    try:
        for n in CONNECTIONS:
            rate, cpu_us, lat = measure(port, n, proxy.pid)
            row = (f"| forwarder | {n} | {rate:,.0f} | {cpu_us:.1f} | {min(lat) * 1e3:.3f} | "
                   f"{_pct(lat, 0.5) * 1e3:.3f} | {_pct(lat, 0.99) * 1e3:.3f} |")  # fmt: skip
            print(row, flush=True)
    finally:
        proxy.kill()
        proxy.wait()
        listener.close()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
