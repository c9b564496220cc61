"""What operations cost each request: the listener layer, its access line and metrics.

The gateway's HTTP benchmark (``bench_gateway``) cannot resolve a few microseconds on a
shared host, so this measures the per-request work ``vigie.http`` and the gateway's meter
add, in process, by calling the same code a request runs:

- **listener layer**: :class:`~vigie.http.middleware.ListenerMiddleware` around an ASGI
  app that answers at once, minus that app alone (limits, security headers, request id,
  request metrics, the JSON access line written to ``/dev/null``);
- **of which access line and request metrics**: :class:`vigie.http.access.Access` opened
  and closed;
- **gateway meter**: :func:`vigie.gateway.meter.served` (four metric updates);
- **audit append timing**: one histogram observation.

Each in single-process mode and with ``PROMETHEUS_MULTIPROC_DIR`` set (``vigie serve
--workers N``: values in memory-mapped files), each in a fresh interpreter.
Usage: ``python -m benchmarks ops`` (``BENCH_OPS_N`` requests, default 20,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N = int(os.environ.get("BENCH_OPS_N", "20000"))
REPEATS = 5


def best(run: Any, n: int) -> float:
    """Fewest CPU µs per call of ``run(n)`` over REPEATS batches (CPU time of this process,
    the best batch: other processes on a shared host inflate wall time, not this)."""
    times = []
    for _ in range(REPEATS):
        start = time.process_time()
        run(n)
        times.append((time.process_time() - start) / n * 1e6)
    return min(times)


def measure(n: int) -> dict[str, float]:
    """Mean µs per request of each part (see the module's docstring)."""
    import asyncio
    import logging

    from starlette.requests import Request

    from vigie.gateway import meter
    from vigie.gateway.disclose import Attempt, Disclosure
    from vigie.http.access import Access
    from vigie.http.limits import RequestLimits
    from vigie.http.middleware import ListenerMiddleware
    from vigie.ops import metrics
    from vigie.ops.logs import JsonFormatter

    sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 - for the run
    sink.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(sink)
    logging.getLogger().setLevel(logging.INFO)

    route = type("Route", (), {"path": "/api/v1/subjects/{pseudonym}"})()
    headers = [(b"host", b"gw"), (b"authorization", b"Bearer vgk_abc_" + b"x" * 40)]

    def scope() -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": "/api/v1/subjects/abc",
                "raw_path": b"/api/v1/subjects/abc", "query_string": b"", "headers": headers,
                "client": ("127.0.0.1", 1), "route": route}  # fmt: skip

    async def app(s: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    layer = ListenerMiddleware(app, limits=RequestLimits(8192, 32768, 16384), name="api")

    def serve(target: Any) -> Any:
        async def many(k: int) -> None:
            for _ in range(k):
                await target(scope(), receive, send)

        return lambda k: asyncio.run(many(k))

    out = {"listener layer": best(serve(layer), n) - best(serve(app), n)}

    def accesses(k: int) -> None:
        for _ in range(k):
            access = Access("api", scope())
            access.status = 200
            access.close()

    out["of which access line and request metrics"] = best(accesses, n)

    request = Request(scope())
    attempt = Attempt(origin="127.0.0.1", kind="read", processor_id=1, processor_name="lingua")
    result = Disclosure({}, 10, 100, 1, people=1, newly_counted=1, budget_used=0.5)

    def served(k: int) -> None:
        for _ in range(k):
            meter.served(request, attempt, result)

    out["gateway meter (served)"] = best(served, n)

    def observed(k: int) -> None:
        for _ in range(k):
            metrics.AUDIT_APPEND.observe(0.0004)

    out["audit append timing"] = best(observed, n)
    return out


def _run(multiproc_dir: str | None) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiproc_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    code = f"import json; from benchmarks.bench_ops import measure; print(json.dumps(measure({N})))"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    print(f"per-request cost of operations, CPU µs, best of {REPEATS} batches of {N:,}:")
    with tempfile.TemporaryDirectory() as multiproc:
        for label, directory in (("one process", None), ("workers (multiprocess)", multiproc)):
            print(f"  {label}:")
            for name, us in _run(directory).items():
                print(f"    {name:<44} {us:7.1f} µs")


if __name__ == "__main__":
    main()
