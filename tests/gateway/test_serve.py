"""`vigie serve` (the multi-worker server itself is exercised in test_concurrency.py)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import SQLITE_ONLY
from tests.gateway.conftest import World
from tests.gateway.serving import serving
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent, AuditPending
from vigie.cli.app import app


def test_serve_help_teaches() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--forwarded-allow-ips"):
        assert option in result.output
    assert "/api/v1" in result.output


def test_serve_refuses_an_instance_without_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        app, ["serve", "--port", "1"], env={"VIGIE_DATA_DIR": str(tmp_path / "none")}
    )
    assert result.exit_code == 1
    assert "vigie init" in result.output


# --- over a real socket, against the real server ---------------------------------------


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``vigie serve`` on a free loopback port, for ``world``'s instance; its log file.
    No job worker alongside: the bounds are the listener's (it costs a Python process)."""
    log = tmp_path / "serve.log"
    with serving(world.settings, log, "--no-worker", "--log-level", "info") as base:
        yield base, log


def _raw(base: str, request: bytes, *, close_after_send: bool = False) -> bytes:
    """Send ``request`` bytes on a fresh connection; what the server answers (or b"")."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(request)
        if close_after_send:
            return b""
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"connection: close" not in b"".join(chunks):
                break
        return b"".join(chunks)


@pytest.mark.slow
def test_the_real_server_bounds_headers_and_bodies(served: tuple[str, Path], world: World) -> None:
    base, log = served
    ids = world.people(1)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=30) as client:
        huge = client.get("/api/v1/subjects", headers={**auth, "X-Filler": "a" * 1_000_000})
        assert huge.status_code == 431, huge.text
        assert huge.headers["content-type"] == "application/problem+json"
        line = client.get("/api/v1/subjects", headers={**auth, "X-Filler": "a" * 8200})
        assert line.status_code == 431
        fits = client.get("/api/v1/subjects", headers={**auth, "X-Filler": "a" * 8000})
        assert fits.status_code == 200
        assert fits.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in fits.headers["content-security-policy"]
        assert client.get("/api/v1/subjects?" + "a" * 9000, headers=auth).status_code == 414
        body = b'{"attendance_hours": 1, "x": "' + b"a" * 100_000 + b'"}'
        big = client.post(
            "/api/v1/subjects/x/events",
            content=body,
            headers={**auth, "Content-Type": "application/json"},
        )
        assert big.status_code == 413
        page = client.get("/api/docs")
        assert (
            page.status_code == 200
            and "script-src 'self'" in page.headers["content-security-policy"]
        )
        assert client.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200
    # A client that leaves half-way through its body: an aborted request, no traceback.
    head = (
        "POST /api/v1/subjects/aaaaaaaaaaaaaaaaaaaaaaaaaa/events HTTP/1.1\r\n"
        f"Host: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 500\r\n\r\n"
    ).encode()
    before = _recorded(world)
    _raw(base, head + b'{"attendance_', close_after_send=True)
    time.sleep(2)  # the server notices the closed connection at once; a traceback would show
    assert httpx.get(f"{base}/api/v1/health", timeout=10).status_code == 200
    text = log.read_text()
    assert "Traceback" not in text and "Exception" not in text, text[-3000:]
    assert token not in text
    assert _recorded(world) == before


def _recorded(world: World) -> int:
    """Audit events the requests committed: on the chain, or staged for the sequencer
    (PostgreSQL); not the checkpoints the sequencer signs on its own, whenever it runs.

    One statement, so one snapshot: counted in two, an entry the sequencer moves from the
    staging table to the chain between them would be counted in neither.
    """
    chained = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action != Action.AUDIT_CHECKPOINT)
        .scalar_subquery()
    )
    staged = select(func.count()).select_from(AuditPending).scalar_subquery()
    with world.sessions() as s:
        return s.scalar(select(chained + staged)) or 0


# SQLite only: what is checked is the workers' shared metrics and their log lines, not the
# database (two workers answering on PostgreSQL: test_concurrency's multi-worker server).
@SQLITE_ONLY
@pytest.mark.slow
def test_two_workers_export_one_set_of_metrics_and_log_json(world: World, tmp_path: Path) -> None:
    from vigie.fingerprint.pseudonyms import Pseudonymiser

    ids = world.people(3)
    world.assign(world.processor("lingua"), ids)
    token = world.key("lingua")
    pseudonyms = Pseudonymiser(world.secrets, world.processor_id("lingua")).encode_many(ids)
    log = tmp_path / "serve.log"
    reads = 12
    with (
        serving(world.settings, log, "--workers", "2") as base,
        httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as client,
    ):
        for i in range(reads):  # new connections: both workers serve some
            with httpx.Client(base_url=base, timeout=30) as one:
                one.get(f"/api/v1/subjects/{pseudonyms[i % 3]}", headers=client.headers)
        assert client.get("/ready").status_code == 200
        scraped = client.get("/metrics").text
    served = [
        line
        for line in scraped.splitlines()
        if line.startswith("vigie_http_requests_total{")
        and 'route="/api/v1/subjects/{pseudonym}"' in line
        and 'status="200"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in served) == reads
    assert 'vigie_gateway_distinct_people_total{processor="lingua"} 3.0' in scraped
    assert (world.settings.data_dir / "metrics").is_dir()
    text = log.read_text()
    lines = [orjson.loads(x) for x in text.splitlines() if '"vigie.access"' in x]
    access = [x for x in lines if x["route"] != "/api/v1/health"]  # serving() polls it
    assert len(access) == reads + 2  # the reads, /ready and /metrics
    assert {x["route"] for x in access} == {"/api/v1/subjects/{pseudonym}", "/ready", "/metrics"}
    assert all(p not in text for p in pseudonyms) and token not in text
