"""``vigie serve`` as a real subprocess on a free loopback port, for the tests that need a
real server (its HTTP parser, its workers)."""

from __future__ import annotations

import os
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
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(settings: Settings, log: Path, *args: str, start_within: float = 180) -> Iterator[str]:
    """Run ``vigie serve --port P *args`` for ``settings``' instance, its stderr in ``log``;
    yield its base URL once ``/api/v1/health`` answers; stop it on exit."""
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
