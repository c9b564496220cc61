"""Two ``vigie serve`` processes on one PostgreSQL: a paused one stops nobody else.

Before the audit trail was split into durable and sequenced, every request took the
chain head's row lock and held it until its commit: a host paused mid-request (SIGSTOP,
as a long GC pause, a frozen VM or a debugger would) stopped every other host cold.
Now a request only stages its audit events; the paused host may hold the sequencer's
seat (integration waits) but the other host keeps answering.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.gateway.conftest import World
from tests.gateway.serving import serving
from vigie.audit.models import AuditEvent, AuditPending
from vigie.audit.sequencer import integrate_all
from vigie.audit.verify import verify_trail
from vigie.fingerprint.pseudonyms import Pseudonymiser

# A host as tests/hosts.py starts one: the API listener, no job worker (no job is queued).
HOST = ("--no-worker", "--log-level", "warning")


@pytest.mark.slow
def test_pausing_one_host_leaves_the_other_answering(world: World, tmp_path: Path) -> None:
    if world.engine.dialect.name != "postgresql":
        pytest.skip("hosts share PostgreSQL; SQLite has one writer at a time by design")
    ids = world.people(40)
    tokens, paths = {}, {}
    for name in ("lingua", "civica"):
        world.assign(world.processor(name), ids)
        tokens[name] = world.key(name)
        pseudo = Pseudonymiser(world.secrets, world.processor_id(name))
        paths[name] = [f"/api/v1/subjects/{p}" for p in pseudo.encode_many(ids)]
    stop = threading.Event()
    answered: dict[str, list[float]] = {"a": [], "b": []}  # any answer: 200, or 403 once
    disclosed = {"a": 0, "b": 0}  # detection suspends a key read in a tight loop

    failed: dict[str, BaseException] = {}  # a load thread's error, reported by the test

    def load(base: str, host: str, name: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[name]}"}
        try:
            with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
                i = 0
                while not stop.is_set():
                    r = client.get(paths[name][i % len(ids)])
                    assert r.status_code in (200, 403, 429), r.text
                    answered[host].append(time.monotonic())
                    disclosed[host] += r.status_code == 200
                    i += 1
        except BaseException as exc:  # the main thread reports it
            failed[host] = exc

    with ExitStack() as stack:
        a = stack.enter_context(serving(world.settings, tmp_path / "a.log", *HOST))
        b = stack.enter_context(serving(world.settings, tmp_path / "b.log", *HOST))
        threads = [
            threading.Thread(target=load, args=(a, "a", "lingua"), daemon=True),
            threading.Thread(target=load, args=(b, "b", "civica"), daemon=True),
        ]
        for t in threads:
            t.start()
        # Both hosts answering before the first pause (a loaded machine takes seconds).
        deadline = time.monotonic() + 60
        while not (answered["a"] and answered["b"]) and not failed:
            assert time.monotonic() < deadline, f"first answers: {answered}"
            time.sleep(0.1)
        assert not failed, failed
        host_a = _pids_listening(a)
        pauses = []
        for _ in range(3):
            for pid in host_a:  # mid-request, most likely: it is under load
                os.kill(pid, signal.SIGSTOP)
            paused = time.monotonic()
            time.sleep(3)
            during = [t for t in answered["b"] if t > paused + 0.5]
            for pid in host_a:
                os.kill(pid, signal.SIGCONT)
            pauses.append(len(during))
            time.sleep(1)
        stop.set()
        for t in threads:
            t.join(60)
    assert not failed, failed
    assert all(n > 0 for n in pauses), f"host b answered {pauses} requests while a was paused"
    integrate_all(world.engine)
    report = verify_trail(world.engine, public_key=world.secrets.verify_key)
    with world.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditPending)) == 0
        reads = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "subject:read")
        )
    assert reads == disclosed["a"] + disclosed["b"] > 0
    assert report.events >= reads


def _pids_listening(base: str) -> list[int]:
    """The processes holding ``base``'s listening socket (the whole host)."""
    port = int(base.rsplit(":", 1)[1])
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:  # LISTEN
                inodes.add(inode)
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                pids.append(int(pid))
                break
    assert pids, f"nobody listens on port {port}"
    return pids
