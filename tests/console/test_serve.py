"""The console is a listener of its own: ``vigie serve`` starts it on its own port, and
nothing of the console answers on the processor API's port, nor the reverse.

The ``vigie serve`` tests run on SQLite only and without the job worker: which listener
answers which route, and how the listeners stop with ``vigie serve``, owe nothing to the
database or to the worker (``vigie serve`` on PostgreSQL is tested in
tests/gateway/test_serve.py and tests/public/test_serve.py, the worker alongside in
tests/jobs/test_spawn.py). Each run starts four Python processes on a 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import SQLITE_ONLY
from tests.console.conftest import Desk
from tests.gateway.conftest import World
from tests.gateway.serving import free_port
from vigie.settings import Settings


def test_console_routes_are_not_on_the_api(world: World) -> None:
    api = world.api()
    for path in ("/login", "/", "/processors", "/audit", "/static/htmx.min.js"):
        assert api.get(path).status_code == 404, path


def test_api_routes_are_not_on_the_console(desk: Desk) -> None:
    desk.operator("alice", "dpo")
    client = desk.sign_in("alice")  # even signed in
    for path in ("/api/v1/health", "/api/v1/openapi.json", "/api/v1/subjects", "/api/docs"):
        assert client.get(path).status_code == 404, path


@contextmanager
def serving(settings: Settings, log: Path, *args: str, stop: str = "terminate") -> Iterator[None]:
    env = dict(os.environ)
    env.update(
        VIGIE_DATA_DIR=str(settings.data_dir), VIGIE_DATABASE_URL=settings.resolved_database_url
    )
    vigie = Path(sys.executable).with_name("vigie")
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(vigie), "serve", "--no-worker", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        yield
    finally:
        server.kill() if stop == "kill" else server.terminate()
        server.wait(timeout=30)


def wait_for(url: str, log: Path) -> httpx.Response:
    deadline = time.monotonic() + 180  # a busy host takes seconds to import
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)


def wait_until_refused(url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while not refused(url):
        assert time.monotonic() < deadline, "the console outlived vigie serve\n" + log.read_text()
        time.sleep(0.2)


def refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.ConnectError:
        return True
    return False


@pytest.mark.slow
@SQLITE_ONLY
@pytest.mark.parametrize("stop", ["terminate", "kill"])
def test_serve_starts_both_listeners_each_with_its_own_routes(
    settings: Settings, tmp_path: Path, stop: str
) -> None:
    api, console = free_port(), free_port()
    log = tmp_path / "serve.log"
    args = ("--port", str(api), "--console-port", str(console))
    with serving(settings, log, *args, stop=stop):
        assert wait_for(f"http://127.0.0.1:{api}/api/v1/health", log).status_code == 200
        assert wait_for(f"http://127.0.0.1:{console}/login", log).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{api}/login").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{console}/api/v1/health").status_code == 404
        page = httpx.get(f"http://127.0.0.1:{console}/login")
        assert "script-src 'self'" in page.headers["content-security-policy"]
    # Stopping vigie serve (even with SIGKILL) stops its console too.
    wait_until_refused(f"http://127.0.0.1:{console}/login", log)


@pytest.mark.slow
@SQLITE_ONLY
@pytest.mark.parametrize("only", ["console", "api"])
def test_serve_only_starts_one_listener(settings: Settings, tmp_path: Path, only: str) -> None:
    api, console = free_port(), free_port()
    log = tmp_path / "serve.log"
    args = ("--only", only, "--port", str(api), "--console-port", str(console))
    started, other = (
        (f"http://127.0.0.1:{console}/login", f"http://127.0.0.1:{api}/api/v1/health")
        if only == "console"
        else (f"http://127.0.0.1:{api}/api/v1/health", f"http://127.0.0.1:{console}/login")
    )
    with serving(settings, log, *args):
        assert wait_for(started, log).status_code == 200
        assert refused(other)
