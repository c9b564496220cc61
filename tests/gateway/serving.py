"""``vigie serve`` as a real subprocess on a free loopback port, for the tests that need a
real server (its HTTP parser, its workers)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from vigie.settings import Settings


def free_port() -> int:
    """A loopback port nobody listens on right now, below the kernel's ephemeral range
    (32768-60999 by default): a port from ``bind(0)`` can be taken as the source port of
    any outgoing connection (a database's, a client's) before the server binds it."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20_000, 32_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in 20000-31999")


@contextmanager
def serving(settings: Settings, log: Path, *args: str, start_within: float = 180) -> Iterator[str]:
    """Run ``vigie serve --only api --port P *args`` for ``settings``' instance, its stderr
    in ``log``; yield its base URL once ``/api/v1/health`` answers; stop it on exit."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        VIGIE_DATA_DIR=str(settings.data_dir),
        VIGIE_DATABASE_URL=settings.resolved_database_url,
    )
    vigie = Path(sys.executable).with_name("vigie")
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(vigie), "serve", "--only", "api", "--port", str(port), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_within  # workers take seconds on a busy host
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
