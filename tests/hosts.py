"""Several gateway hosts for the fleet tests and benchmark: each ``vigie serve`` in its own
network namespace, PostgreSQL reached over a veth link with added latency.

Each host ``i`` gets a namespace ``vgh-PID-X`` and a veth pair: ``vghXa`` (root side,
``10.231.X.1/30``) and ``vghXb`` (host side, ``10.231.X.2/30``, default route through the
root side). PostgreSQL listens on the root namespace's loopback only, so a host reaches
it solely through its link: a forwarder on ``10.231.X.1`` (:mod:`tests.delay_proxy`, one
process per host) that adds ``delay_ms`` each way. Where the kernel has ``tc … netem``
the delay is put on both veth ends instead and the forwarder adds none; these machines'
kernels do not have it (``Error: Specified qdisc kind is unknown``), so the delaying
forwarder is what runs here. The processors' clients stay in the root namespace and
talk to ``http://10.231.X.2:PORT``: a real network hop, no added delay.

Every database connection of host ``X`` carries ``application_name = vgh-PID-X``
(``PGAPPNAME``), so ``pg_stat_activity`` tells which host holds what.
The sequencer's own connections are named after its lease holder (``host:pid:nonce``):
:meth:`Fleet.sequencer_host` reads the lease and finds the host by the pid.

Where network namespaces cannot be created (no root, no ``CAP_NET_ADMIN``) the tests
skip with the reason; ``VIGIE_TEST_REQUIRE_NETNS=1`` (set by ``.ci/run``) makes that a
failure. Namespaces, links and processes are removed on exit, failure included, and any
left by a run that was killed (its pid gone) are removed by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from sqlalchemy import create_engine, make_url, text

REQUIRE_NETNS = os.environ.get("VIGIE_TEST_REQUIRE_NETNS") == "1"
SUBNET = "10.231"
PREFIX = "vgh"
PORT = 8000  # every host listens on its own address, same port
_LOCK = Path("/tmp/vigie-netns.lock")
_ROOT = Path(__file__).resolve().parents[1]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def netns_problem() -> str | None:
    """Why network namespaces and veth links cannot be made here, or None if they can."""
    name = f"{PREFIX}-probe-{os.getpid()}"
    try:
        made = _ip("netns", "add", name, check=False)
    except FileNotFoundError:
        return "the `ip` command (iproute2) is missing"
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    try:
        link = _ip("link", "add", f"{PREFIX}pa", "type", "veth", "peer", "name", f"{PREFIX}pb",
                   "netns", name, check=False)  # fmt: skip
        if link.returncode != 0:
            return f"`ip link add … type veth` failed: {link.stderr.strip()}"
        return None
    finally:
        _ip("link", "del", f"{PREFIX}pa", check=False)
        _ip("netns", "del", name, check=False)


def require_netns() -> None:
    """Skip the calling test (fail it under ``VIGIE_TEST_REQUIRE_NETNS=1``) without netns."""
    import pytest

    problem = netns_problem()
    if problem is None:
        return
    message = f"network namespaces unavailable: {problem}"
    if REQUIRE_NETNS:
        pytest.fail(f"{message} (VIGIE_TEST_REQUIRE_NETNS=1)")
    pytest.skip(message)


def netem_available() -> bool:
    """Whether ``tc qdisc add … netem`` works on this kernel (tried on a scratch veth)."""
    probe = f"{PREFIX}nm{os.getpid() % 10000}"
    if _ip("link", "add", probe, "type", "veth", "peer", "name", probe + "p",
           check=False).returncode != 0:  # fmt: skip
        return False
    try:
        done = subprocess.run(
            ["tc", "qdisc", "add", "dev", probe, "root", "netem", "delay", "1ms"],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0
    except FileNotFoundError:
        return False
    finally:
        _ip("link", "del", probe, check=False)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _namespaces() -> list[str]:
    out = _ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _ns_pids(ns: str) -> list[int]:
    """The running processes of namespace ``ns`` (zombies waiting to be reaped left out)."""
    out = _ip("netns", "pids", ns, check=False).stdout
    return [pid for pid in map(int, out.split()) if _alive(pid)]


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _remove_namespace(ns: str) -> None:
    pids = _ns_pids(ns)
    _signal_all(pids, signal.SIGCONT)  # a paused process cannot act on SIGTERM
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while (pids := _ns_pids(ns)) and time.monotonic() < deadline:
        time.sleep(0.2)
    _signal_all(pids, signal.SIGKILL)
    _ip("netns", "del", ns, check=False)  # takes the veth pair with it


def remove_stale() -> None:
    """Remove the namespaces of harness runs whose process is gone."""
    for ns in _namespaces():
        m = re.fullmatch(rf"{PREFIX}-(\d+)-(\d+)", ns)
        if m and not _alive(int(m.group(1))):
            _remove_namespace(ns)


@dataclass
class Host:
    """One gateway host: its namespace, address, forwarder and ``vigie serve``."""

    index: int
    block: int  # X of 10.231.X.0/30
    ns: str
    log: Path
    proxy: subprocess.Popen[bytes] | None = None
    server: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.block}.2"

    @property
    def gateway(self) -> str:
        return f"{SUBNET}.{self.block}.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{PORT}"

    @property
    def app_name(self) -> str:
        return self.ns

    def pids(self) -> list[int]:
        """Every process in the host's namespace (the server, its workers)."""
        return _ns_pids(self.ns)

    def pause(self) -> None:
        """SIGSTOP every process of the host (a long GC pause, a frozen VM)."""
        _signal_all(self.pids(), signal.SIGSTOP)

    def resume(self) -> None:
        _signal_all(self.pids(), signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL every process of the host: the machine is gone."""
        _signal_all(self.pids(), signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.server is not None:
            self.server.wait(timeout=10)


@dataclass
class Fleet:
    """N hosts, started by :func:`fleet`; ``link`` says how the delay is made."""

    hosts: list[Host]
    database_url: str  # as the root namespace reaches it (no delay)
    link: str  # "netem" or "delaying forwarder"
    delay_ms: float  # added each way
    owner: str = field(default_factory=lambda: f"{PREFIX}-{os.getpid()}-")

    def sequencer_host(self) -> Host | None:
        """The host whose process holds the sequencer's seat (an unexpired lease), if any.

        The lease names its holder ``host:pid:nonce``; every host shares this machine's
        host name, so the pid tells which namespace it runs in."""
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                holder = conn.execute(
                    text(
                        "SELECT holder FROM audit_sequencer_lease WHERE id = 1 AND expires_us > "
                        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint"
                    )
                ).scalar()
        finally:
            engine.dispose()
        if holder is None:
            return None
        pid = int(str(holder).rsplit(":", 2)[-2])
        return next((h for h in self.hosts if pid in h.pids()), None)


def _free_blocks(n: int) -> list[int]:
    used = set(
        map(int, re.findall(rf"{re.escape(SUBNET)}\.(\d+)\.", _ip("-o", "-4", "addr").stdout))
    )
    used |= {
        int(m.group(2)) for ns in _namespaces() if (m := re.fullmatch(rf"{PREFIX}-(\d+)-(\d+)", ns))
    }
    free = [b for b in range(1, 255) if b not in used]
    if len(free) < n:
        raise RuntimeError("no free 10.231.X.0/30 block left for the fleet harness")
    return free[:n]


def _make_link(host: Host, *, netem: bool, delay_ms: float) -> None:
    a, b = f"{PREFIX}{host.block}a", f"{PREFIX}{host.block}b"
    _ip("netns", "add", host.ns)
    _ip("link", "add", a, "type", "veth", "peer", "name", b, "netns", host.ns)
    _ip("addr", "add", f"{host.gateway}/30", "dev", a)
    _ip("link", "set", a, "up")
    inside = ("netns", "exec", host.ns, "ip")
    _ip(*inside, "link", "set", "lo", "up")
    _ip(*inside, "addr", "add", f"{host.address}/30", "dev", b)
    _ip(*inside, "link", "set", b, "up")
    _ip(*inside, "route", "add", "default", "via", host.gateway)
    if netem:
        delay = f"{delay_ms}ms"
        subprocess.run(["tc", "qdisc", "add", "dev", a, "root", "netem", "delay", delay],
                       check=True)  # fmt: skip
        subprocess.run(["ip", "netns", "exec", host.ns, "tc", "qdisc", "add", "dev", b, "root",
                        "netem", "delay", delay], check=True)  # fmt: skip


def _start_proxy(host: Host, upstream: str, delay_ms: float, *, within: float = 30) -> int:
    """Start the host's forwarder on ``host.gateway``; return the port it listens on.

    The forwarder binds a port the system chooses and says ``ready PORT`` once it
    listens: no fixed port that a forwarder left from a killed run (its namespace gone,
    its socket still bound to the address until it notices its parent is gone) could
    still hold, and no sleep or poll. Waits ``within`` seconds at most for the line.
    """
    log = host.log.with_suffix(".forwarder.log")
    with log.open("wb") as sink:
        host.proxy = subprocess.Popen(
            [sys.executable, "-m", "tests.delay_proxy", "--listen", f"{host.gateway}:0",
             "--upstream", upstream, "--delay-ms", str(delay_ms)],
            cwd=_ROOT, stdout=subprocess.PIPE, stderr=sink,
        )  # fmt: skip
    assert host.proxy.stdout is not None
    with host.proxy.stdout:
        line = _readline(host.proxy.stdout, within).split()
    if len(line) != 2 or line[0] != b"ready" or not line[1].isdigit():
        host.proxy.kill()
        host.proxy.wait()
        raise RuntimeError(
            f"the delaying forwarder of host {host.index} did not start within {within} s "
            f"(said {b' '.join(line)!r}): " + log.read_text(errors="replace")[-2000:]
        )
    return int(line[1])


def _readline(stream: IO[bytes], within: float) -> bytes:
    """One line of ``stream``, or what came of it after ``within`` seconds (b"": nothing)."""
    fd = stream.fileno()
    got = b""
    deadline = time.monotonic() + within
    while not got.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 256)
        if not chunk:
            break
        got += chunk
    return got


def serve_command(host: Host, args: tuple[str, ...] = ()) -> list[str]:
    """``vigie serve`` of the processor API alone, on the host's address."""
    vigie = Path(sys.executable).with_name("vigie")
    return [str(vigie), "serve", "--only", "api", "--host", host.address, "--port", str(PORT),
            "--no-worker", "--log-level", "warning", *args]  # fmt: skip


def _start_server(
    host: Host, *, data_dir: Path, url: str, command: list[str], env: dict[str, str]
) -> None:
    environment = dict(os.environ)
    environment.update(env)
    environment.update(
        VIGIE_DATA_DIR=str(data_dir), VIGIE_DATABASE_URL=url, PGAPPNAME=host.app_name
    )
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with host.log.open("wb") as sink:
        host.server = subprocess.Popen(
            ["ip", "netns", "exec", host.ns, *command],
            cwd=_ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip


def _wait_healthy(hosts: list[Host], within: float) -> None:
    deadline = time.monotonic() + within
    waiting = list(hosts)
    while waiting:
        for host in list(waiting):
            assert host.server is not None
            if host.server.poll() is not None:
                raise RuntimeError(f"host {host.index} stopped: {host.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{host.base_url}/api/v1/health", timeout=2).status_code == 200:
                    waiting.remove(host)
            except httpx.TransportError:
                pass
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"hosts {[h.index for h in waiting]} did not start in {within} s")
        time.sleep(0.2)


@contextlib.contextmanager
def fleet(
    n: int,
    *,
    data_dir: Path,
    database_url: str,
    logs: Path,
    delay_ms: float = 0.5,
    serve_args: tuple[str, ...] = (),
    command: Callable[[Host], list[str]] | None = None,
    env: dict[str, str] | None = None,
    start_within: float = 240,
) -> Iterator[Fleet]:
    """Start ``n`` hosts serving the instance at ``data_dir`` / ``database_url`` (PostgreSQL
    on this machine); yield the :class:`Fleet` once every host answers ``/api/v1/health``;
    stop and remove everything on exit, whatever happened. Each host runs
    :func:`serve_command` with ``serve_args``, or ``command(host)`` (another server on
    ``host.address:PORT``, e.g. a benchmark's app)."""
    pg = make_url(database_url)
    if pg.get_backend_name() != "postgresql":
        raise ValueError("the fleet shares one PostgreSQL")
    upstream = f"{pg.host or '127.0.0.1'}:{pg.port or 5432}"
    netem = netem_available()
    hosts: list[Host] = []
    logs.mkdir(parents=True, exist_ok=True)
    try:
        with _LOCK.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            remove_stale()
            for i, block in enumerate(_free_blocks(n)):
                host = Host(i, block, f"{PREFIX}-{os.getpid()}-{block}", logs / f"host{i}.log")
                hosts.append(host)
                _make_link(host, netem=netem, delay_ms=delay_ms)
        for host in hosts:
            port = _start_proxy(host, upstream, 0.0 if netem else delay_ms)
            url = pg.set(host=host.gateway, port=port).render_as_string(hide_password=False)
            argv = command(host) if command else serve_command(host, serve_args)
            _start_server(host, data_dir=data_dir, url=url, command=argv, env=env or {})
        _wait_healthy(hosts, start_within)
        yield Fleet(
            hosts,
            database_url,
            "netem" if netem else "delaying forwarder",
            delay_ms,
        )
    finally:
        for host in hosts:
            _remove_namespace(host.ns)
            if host.server is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    host.server.wait(timeout=10)
            if host.proxy is not None:
                host.proxy.kill()
                host.proxy.wait(timeout=10)
