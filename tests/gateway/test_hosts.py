"""Several gateway hosts, each in its own network namespace, PostgreSQL over a slow link.

The harness is :mod:`tests.hosts` (namespaces, veth links, the delaying forwarder); the
load comes from several processors at once, each from threads of this process. Skipped
with the reason where namespaces cannot be made; ``VIGIE_TEST_REQUIRE_NETNS=1`` (CI)
makes that a failure.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, make_url, select

from tests.conftest import PG_URL, postgres_available
from tests.gateway.conftest import World
from tests.hosts import (
    PORT,
    Fleet,
    Host,
    _alive,
    _namespaces,
    _ns_pids,
    fleet,
    remove_stale,
    require_netns,
)
from vigie.audit.canonical import decode_subjects
from vigie.audit.models import AuditEvent, AuditPending
from vigie.fingerprint.pseudonyms import Pseudonymiser

# One fleet at a time (each is three servers on a 2-core machine): one xdist worker runs them.
pytestmark = pytest.mark.xdist_group("hosts")
PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def netns() -> None:
    require_netns()


@pytest.fixture
def link() -> Iterator[int]:
    """A delaying forwarder (0.5 ms each way) to the test PostgreSQL; yields its port."""
    if not postgres_available():
        pytest.skip("PostgreSQL unreachable")
    url = make_url(PG_URL)
    proxy = subprocess.Popen(
        [sys.executable, "-m", "tests.delay_proxy", "--listen", "127.0.0.1:0",
         "--upstream", f"{url.host}:{url.port or 5432}", "--delay-ms", "0.5"],
        cwd=ROOT, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proxy.stdout is not None
        with proxy.stdout:
            ready, port = proxy.stdout.readline().split()
        assert ready == b"ready"
        yield int(port)
    finally:
        proxy.kill()
        proxy.wait()


def _connect(port: int) -> psycopg.Connection[Any]:
    url = make_url(PG_URL)
    return psycopg.connect(host="127.0.0.1", port=port, user=url.username, dbname=url.database)


def test_the_link_adds_its_delay_to_every_round_trip(link: int) -> None:
    """The delaying forwarder adds at least its delay each way to every round trip."""

    def round_trips(p: int) -> list[float]:
        times = []
        with _connect(p) as conn:
            for _ in range(20):
                t0 = time.perf_counter()
                conn.execute("SELECT 1").fetchone()
                times.append(time.perf_counter() - t0)
        return times

    slow = round_trips(link)
    direct = round_trips(make_url(PG_URL).port or 5432)
    assert min(slow) >= 0.001  # 0.5 ms each way, whatever the machine's load
    assert min(direct) < min(slow)


def test_the_link_carries_large_answers_many_connections_and_their_ends(link: int) -> None:
    """Answers larger than the socket buffers arrive whole and in order, over several
    connections at once, and connections closed at either end leave the link working."""

    def read(i: int) -> None:
        with _connect(link) as conn:
            rows = conn.execute(
                "SELECT n, repeat(md5(n::text), 2000) FROM generate_series(1, 200) n"
            ).fetchall()
            assert [n for n, _ in rows] == list(range(1, 201))
            assert all(text == hashlib.md5(str(n).encode()).hexdigest() * 2000 for n, text in rows)

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(read, i) for i in range(4)]:
            done.result()
    with _connect(link) as conn:  # the server ends this one
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()
        with _connect(link) as other:
            other.execute("SELECT pg_terminate_backend(%s)", pid)
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with _connect(link) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


_PROBE = """
import pytest
from tests.hosts import require_netns
try:
    require_netns()
except pytest.skip.Exception as e:
    print("SKIP", e)
except pytest.fail.Exception as e:
    print("FAIL", e)
else:
    print("RAN")
"""


@pytest.mark.parametrize("required", [False, True])
def test_without_namespaces_the_tests_skip_or_fail_as_asked(required: bool) -> None:
    """Run without CAP_NET_ADMIN and CAP_SYS_ADMIN (dropped from the bounding set: still
    root, so the checkout and its venv stay readable wherever they are): skipped with the
    reason, or failed under VIGIE_TEST_REQUIRE_NETNS=1 (as in CI)."""
    if os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists():
        pytest.skip("needs root and setpriv to drop the network capabilities")
    env = {k: v for k, v in os.environ.items() if k != "VIGIE_TEST_REQUIRE_NETNS"}
    if required:
        env["VIGIE_TEST_REQUIRE_NETNS"] = "1"
    done = subprocess.run(
        ["setpriv", "--bounding-set", "-net_admin,-sys_admin", sys.executable, "-c", _PROBE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = done.stdout.strip()
    assert out.startswith("FAIL" if required else "SKIP"), out + done.stderr
    assert "network namespaces unavailable: `ip netns add` failed" in out


def _static_host(root: Path) -> Any:
    """A host command serving ``root`` (which holds ``api/v1/health``) with http.server."""
    health = root / "api" / "v1" / "health"
    health.parent.mkdir(parents=True, exist_ok=True)
    health.write_text("ok")

    def command(host: Host) -> list[str]:
        return [sys.executable, "-m", "http.server", "--bind", host.address, str(PORT),
                "--directory", str(root)]  # fmt: skip

    return command


def test_the_hosts_are_removed_on_failure_and_after_a_killed_run(
    tmp_path: Path, netns: None
) -> None:
    command = _static_host(tmp_path / "www")
    with (
        pytest.raises(RuntimeError, match="the test failed"),
        fleet(
            1, data_dir=tmp_path, database_url=PG_URL, logs=tmp_path / "logs", command=command
        ) as f,  # fmt: skip
    ):
        [host] = f.hosts
        assert host.pids() and httpx.get(f"{host.base_url}/api/v1/health").text == "ok"
        raise RuntimeError("the test failed")
    assert host.ns not in _namespaces()
    assert host.proxy is not None and host.proxy.poll() is not None
    # A run killed outright leaves its namespace; the next run removes it.
    script = (
        "import sys, time\nfrom pathlib import Path\nfrom tests.hosts import fleet\n"
        "from tests.gateway.test_hosts import _static_host\n"
        f"with fleet(1, data_dir=Path({str(tmp_path)!r}), database_url={PG_URL!r}, "
        f"logs=Path({str(tmp_path / 'logs2')!r}), "
        f"command=_static_host(Path({str(tmp_path / 'www')!r}))) as f:\n"
        "    print(f.hosts[0].ns, flush=True)\n    time.sleep(600)\n"
    )
    run = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                           text=True)  # fmt: skip
    assert run.stdout is not None
    with run.stdout:
        ns = run.stdout.readline().strip()
    assert ns in _namespaces()
    left = _ns_pids(ns)
    run.kill()
    run.wait()
    assert ns in _namespaces() and left
    remove_stale()
    assert ns not in _namespaces()
    assert not any(_alive(pid) for pid in left)


@dataclass
class Load:
    """Processors reading their people through the hosts until ``stop``."""

    world: World
    tokens: dict[str, str]
    paths: dict[str, list[str]]
    stop: threading.Event = field(default_factory=threading.Event)
    answers: dict[int, list[float]] = field(default_factory=dict)  # host → answer times
    ok: Counter[str] = field(default_factory=Counter)  # processor → 200s received
    statuses: Counter[int] = field(default_factory=Counter)
    dead: set[int] = field(default_factory=set)  # hosts found gone
    lost: Counter[str] = field(default_factory=Counter)  # requests cut by a dead host
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, name: str, hosts: list[Host], seed: int) -> None:
        """Read random people of ``name`` through ``hosts`` in turn (skipping dead ones)."""
        rng = random.Random(seed)
        headers = {"Authorization": f"Bearer {self.tokens[name]}"}
        clients = {h.index: httpx.Client(base_url=h.base_url, headers=headers, timeout=120)
                   for h in hosts}  # fmt: skip
        turn = 0
        try:
            while not self.stop.is_set():
                live = [h for h in hosts if h.index not in self.dead]
                if not live:
                    return
                host = live[turn % len(live)]
                turn += 1
                try:
                    r = clients[host.index].get(rng.choice(self.paths[name]))
                except httpx.TransportError:
                    with self.lock:
                        self.lost[name] += 1
                        self.dead.add(host.index)
                    continue
                with self.lock:
                    self.answers.setdefault(host.index, []).append(time.monotonic())
                    self.statuses[r.status_code] += 1
                    self.ok[name] += r.status_code == 200
        finally:
            for c in clients.values():
                c.close()

    def start(self, plan: dict[str, list[Host]]) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self.run, args=(name, hosts, i), daemon=True)
            for i, (name, hosts) in enumerate(plan.items())
        ]
        for t in threads:
            t.start()
        return threads

    def wait_answers(self, hosts: list[Host], within: float = 60) -> None:
        """Until every host of ``hosts`` has answered (a busy machine starts slowly)."""
        deadline = time.monotonic() + within
        while not all(self.answered_after(h, 0) for h in hosts):
            assert time.monotonic() < deadline, f"hosts silent: answers {self.answers.keys()}"
            time.sleep(0.2)

    def wait_answered_after(
        self, hosts: list[Host], since: float, *, at_least: int = 1, within: float = 120
    ) -> None:
        """Until each host of ``hosts`` has answered ``at_least`` times after ``since``."""
        deadline = time.monotonic() + within
        while not all(self.answered_after(h, since) >= at_least for h in hosts):
            seen = {h.index: self.answered_after(h, since) for h in hosts}
            assert time.monotonic() < deadline, f"answers after the mark: {seen}"
            time.sleep(0.2)

    def answered_after(self, host: Host, since: float) -> int:
        with self.lock:
            return sum(t > since for t in self.answers.get(host.index, []))


def _processors(world: World, names: list[str], people: int, per_day: int) -> Load:
    tokens, paths = {}, {}
    for name in names:
        ids = world.people(people)
        world.assign(world.processor(name, per_day=per_day, per_30_days=per_day * 10), ids)
        tokens[name] = world.key(name)
        pseudo = Pseudonymiser(world.secrets, world.processor_id(name))
        paths[name] = [f"/api/v1/subjects/{p}" for p in pseudo.encode_many(ids)]
    return Load(world, tokens, paths)


def _fleet(world: World, tmp_path: Path, n: int) -> Iterator[Fleet]:
    with fleet(
        n,
        data_dir=world.settings.data_dir,
        database_url=world.settings.resolved_database_url,
        logs=tmp_path / "hosts",
    ) as f:
        yield f


@pytest.mark.slow
@PG_ONLY
def test_pausing_any_host_leaves_the_others_answering(
    world: World, tmp_path: Path, netns: None
) -> None:
    load = _processors(world, ["lingua", "civica", "forma"], people=60, per_day=100_000)
    fleet_gen = _fleet(world, tmp_path, 3)
    hosts = next(fleet_gen)
    try:
        plan = dict(zip(load.tokens, ([h] for h in hosts.hosts), strict=True))
        threads = load.start(plan)  # each processor on its own host
        load.wait_answers(hosts.hosts)
        deadline, seq = time.monotonic() + 120, hosts.sequencer_host()
        while seq is None:  # a host is elected as it starts; a loaded machine is slow
            assert time.monotonic() < deadline, "no host was elected sequencer"
            time.sleep(0.2)
            seq = hosts.sequencer_host()
        # The sequencer's host first (it holds the election's lock), then another one.
        for paused in [seq, next(h for h in hosts.hosts if h is not seq)]:
            paused.pause()
            at = time.monotonic() + 0.5  # a request already under way may still finish
            try:  # the others answer while it is paused (a loaded machine: within 60 s)
                load.wait_answered_after([h for h in hosts.hosts if h is not paused], at,
                                         within=60)  # fmt: skip
            finally:
                paused.resume()
            load.wait_answered_after([paused], time.monotonic())  # and it answers again
        load.stop.set()
        for t in threads:
            t.join(60)
    finally:
        load.stop.set()
        fleet_gen.close()
    assert not load.dead
    assert set(load.statuses) <= {200, 403, 429}, load.statuses


@pytest.mark.slow
@PG_ONLY
def test_killing_the_sequencers_host_midway_loses_nothing(
    world: World, tmp_path: Path, netns: None
) -> None:
    per_day = 15
    names = ["lingua", "civica", "forma", "alpha"]
    load = _processors(world, names, people=100, per_day=per_day)
    fleet_gen = _fleet(world, tmp_path, 3)
    hosts = next(fleet_gen)
    try:
        threads = load.start({n: hosts.hosts for n in names})  # every processor on every host
        threads += load.start({n: hosts.hosts[::-1] for n in names})
        load.wait_answers(hosts.hosts)
        # Midway: budgets being spent, entries pending (a few answers from every host).
        load.wait_answered_after(hosts.hosts, 0, at_least=5)
        victim = hosts.sequencer_host()
        assert victim is not None, "no host was elected sequencer"
        victim.kill()
        killed = time.monotonic()
        successor = None
        while successor is None and time.monotonic() - killed < 120:  # a loaded machine
            successor = hosts.sequencer_host()
            time.sleep(0.2)
        took_over = time.monotonic() - killed
        assert successor is not None and successor is not victim
        # The survivors keep serving under the new sequencer.
        survivors = [h for h in hosts.hosts if h is not victim]
        load.wait_answered_after(survivors, time.monotonic(), at_least=3)
        deadline = time.monotonic() + 120  # and read on until the budgets bind
        while not load.statuses[429]:
            assert time.monotonic() < deadline, f"the budgets never bound ({load.statuses})"
            time.sleep(0.2)
        load.stop.set()
        for t in threads:
            t.join(60)
        with world.sessions() as s:  # the successor integrates what the victim left
            deadline = time.monotonic() + 120
            while s.scalar(select(func.count()).select_from(AuditPending)):
                assert time.monotonic() < deadline, "entries left unintegrated"
                time.sleep(0.2)
                s.rollback()
    finally:
        load.stop.set()
        fleet_gen.close()
    assert victim.index in load.dead
    assert set(load.statuses) <= {200, 403, 429}, load.statuses
    print(f"sequencer taken over {took_over:.1f} s after the kill")  # said, not asserted
    with world.sessions() as s:
        reads = s.execute(
            select(AuditEvent.at_us, AuditEvent.actor, AuditEvent.subjects)
            .where(AuditEvent.action == "subject:read", AuditEvent.outcome == "ok")
        ).all()  # fmt: skip
        processors = dict(
            s.execute(select(AuditEvent.actor, AuditEvent.processor_id).distinct()).all()
        )
    # Each disclosure once: no event twice (same time, key and person).
    assert len(set(reads)) == len(reads)
    answered = sum(load.ok.values())
    # Every answered read is in the trail; at most the requests cut by the kill (committed,
    # then the host died before answering) are there unanswered.
    assert answered <= len(reads) <= answered + sum(load.lost.values())
    people: dict[int | None, set[int]] = {}
    for _, actor, blob in reads:
        people.setdefault(processors[actor], set()).update(decode_subjects(blob))
    assert len(people) == len(names)
    assert all(len(p) <= per_day for p in people.values()), {k: len(v) for k, v in people.items()}
    assert load.statuses[429] > 0, f"the budgets never bound ({load.statuses}, {load.ok})"
    env = dict(os.environ, VIGIE_DATA_DIR=str(world.settings.data_dir),
               VIGIE_DATABASE_URL=world.settings.resolved_database_url)  # fmt: skip
    vigie = Path(sys.executable).with_name("vigie")
    done = subprocess.run([str(vigie), "audit", "verify"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
