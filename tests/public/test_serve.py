"""`vigie serve` starts the public listener on its own port, alone with `--only public`.

On SQLite only, without a job worker (as tests/console/test_serve.py): what is checked is
which listener answers which routes, not the database nor the jobs."""

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
from typer.testing import CliRunner

from tests.conftest import SQLITE_ONLY
from tests.gateway.serving import free_port
from vigie.cli.app import app
from vigie.settings import Settings


def test_serve_help_names_the_public_listener() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--public-port", "--public-host", "--only"):
        assert option in result.output


def test_serve_refuses_an_unknown_listener(settings: Settings) -> None:
    env = {
        "VIGIE_DATA_DIR": str(settings.data_dir),
        "VIGIE_DATABASE_URL": settings.resolved_database_url,
    }
    result = CliRunner().invoke(app, ["serve", "--only", "nothing"], env=env)
    assert result.exit_code != 0
    assert "--only must be one of" in result.output


@contextmanager
def _serving(settings: Settings, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env.update(
        VIGIE_DATA_DIR=str(settings.data_dir), VIGIE_DATABASE_URL=settings.resolved_database_url
    )
    vigie = Path(sys.executable).with_name("vigie")
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(vigie), "serve", "--no-worker", *args],  # no job: no job worker
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        yield server
    finally:
        server.terminate()
        server.wait(timeout=60)


def _wait(url: str, server: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 180
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.3)


@SQLITE_ONLY
@pytest.mark.slow
def test_serve_runs_both_listeners_each_with_only_its_own_routes(
    settings: Settings, tmp_path: Path
) -> None:
    api, public = free_port(), free_port()
    log = tmp_path / "serve.log"
    with _serving(settings, log, "--port", str(api), "--public-port", str(public)) as server:
        assert _wait(f"http://127.0.0.1:{public}/", server, log).status_code == 200
        assert _wait(f"http://127.0.0.1:{api}/api/v1/health", server, log).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{public}/api/v1/health").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{api}/verify").status_code == 404
    assert server.returncode is not None


@SQLITE_ONLY
@pytest.mark.slow
def test_serve_only_public(settings: Settings, tmp_path: Path) -> None:
    public = free_port()
    log = tmp_path / "serve.log"
    with _serving(settings, log, "--only", "public", "--public-port", str(public)) as server:
        page = _wait(f"http://127.0.0.1:{public}/verify", server, log)
        assert page.status_code == 200 and "<form" in page.text
        assert "public service" in log.read_text() and "gateway" not in log.read_text()
