"""A TCP proxy that delays every chunk by a fixed time in each direction: a slow link.

The hosts of the fleet harness (:mod:`tests.hosts`) reach PostgreSQL through it, because
``tc qdisc … netem`` is not available on every kernel (these machines' kernels lack it).
Each chunk read from one side is written to the other ``delay`` seconds after the kernel
received it, in order, so the link's latency is added to every round trip whatever the
load (``--delay-ms 0.5`` adds 1 ms to each round trip: 0.5 ms each way, as ``netem
delay`` on both ends of a link would).

It shares the machine with what it measures, so it is built to cost little: one thread
and one ``epoll`` for every connection, non-blocking sockets with large buffers, and one
queue of chunks ordered by when each is due. The delay is counted from the kernel's
receive time stamp of each chunk (``SO_TIMESTAMPNS``; the time it was read where the
kernel gives none), so a chunk that arrived while the loop was busy is not delayed twice.
``epoll`` waits whole milliseconds, so the last millisecond before a chunk is due is
waited with ``time.sleep`` (a nanosleep, exact to about 0.1 ms); nothing that arrives
meanwhile can be due earlier, the delay being the same for every chunk.

Usage: ``python -m tests.delay_proxy --listen HOST:PORT --upstream HOST:PORT
--delay-ms 0.5``; ``PORT`` 0 lets the system choose. Once it listens it prints ``ready
PORT`` (the port it listens on) on stdout; it runs until killed or until its parent is
gone.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import heapq
import itertools
import os
import select
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS is the same
_TIMESPEC = struct.Struct("@ll")
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size)
CHUNK = 262_144
BUFFER = 4 * 1024 * 1024
PR_SET_PDEATHSIG = 1


@dataclass(eq=False)
class _Side:
    """One socket of a proxied connection, and what waits to be written to it."""

    sock: socket.socket
    peer: _Side | None = None
    backlog: bytearray = field(default_factory=bytearray)  # due, not yet accepted by the kernel
    eof_due: bool = False  # the other side ended: shut this one's write side once flushed
    reading: bool = True
    writing_shut: bool = False
    last_due: float = 0.0  # chunks of one direction stay in order
    watched: int = select.EPOLLIN  # the events asked of epoll (0: not registered)

    @property
    def fd(self) -> int:
        return self.sock.fileno()


class Forwarder:
    """Every connection of one listening socket, forwarded to ``upstream`` with ``delay``."""

    def __init__(self, listener: socket.socket, upstream: tuple[str, int], delay: float):
        self.listener = listener
        self.upstream = upstream
        self.delay = delay
        self.poller = select.epoll()
        self.sides: dict[int, _Side] = {}
        self.due: list[tuple[float, int, _Side, bytes | None]] = []  # (due, seq, to, data)
        self.seq = itertools.count()
        listener.setblocking(False)
        self.poller.register(listener.fileno(), select.EPOLLIN)

    # --- connections --------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except BlockingIOError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            a, b = _Side(client), _Side(server)
            a.peer, b.peer = b, a
            for side in (a, b):
                sock = side.sock
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                self.sides[side.fd] = side
                self.poller.register(side.fd, select.EPOLLIN)

    def _close(self, side: _Side) -> None:
        """Close both sockets of the connection at once (a reset, or both ends done)."""
        for s in (side, side.peer):
            if s is None or s.fd < 0:
                continue
            self.sides.pop(s.fd, None)
            with contextlib.suppress(OSError, ValueError):
                self.poller.unregister(s.fd)
            s.sock.close()

    def _watch(self, side: _Side) -> None:
        """Ask epoll for what the side waits for; unregister it when it waits for nothing
        (epoll reports a hang-up even to an empty mask, which would spin the loop)."""
        mask = (select.EPOLLIN if side.reading else 0) | (select.EPOLLOUT if side.backlog else 0)
        if side.fd < 0 or mask == side.watched:
            return
        if not mask:
            self.poller.unregister(side.fd)
        elif side.watched:
            self.poller.modify(side.fd, mask)
        else:
            self.poller.register(side.fd, mask)
        side.watched = mask

    # --- reading: stamp each chunk with when it is due ----------------------------------

    def _read(self, side: _Side) -> None:
        peer = side.peer
        assert peer is not None
        try:
            data, ancillary, _, _ = side.sock.recvmsg(CHUNK, _ANCILLARY)
        except BlockingIOError:
            return
        except OSError:
            self._close(side)
            return
        arrived = None
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = _TIMESPEC.unpack(value[: _TIMESPEC.size])
                arrived = sec + nsec / 1e9
        due = max((arrived or time.time()) + self.delay, peer.last_due)
        peer.last_due = due
        if not data:  # end of stream: pass it on once what came before is delivered
            side.reading = False
            self._watch(side)
            heapq.heappush(self.due, (due, next(self.seq), peer, None))
            return
        heapq.heappush(self.due, (due, next(self.seq), peer, data))

    # --- writing: what is due, in order -------------------------------------------------

    def _deliver(self, side: _Side, data: bytes | None) -> None:
        if side.fd < 0:
            return
        if data is None:
            side.eof_due = True
        elif side.backlog:
            side.backlog += data
        else:
            try:
                sent = side.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._close(side)
                return
            if sent < len(data):
                side.backlog += data[sent:]
                self._watch(side)
        self._maybe_shut(side)

    def _flush(self, side: _Side) -> None:
        try:
            sent = side.sock.send(side.backlog)
        except BlockingIOError:
            return
        except OSError:
            self._close(side)
            return
        del side.backlog[:sent]
        if not side.backlog:
            self._watch(side)
        self._maybe_shut(side)

    def _maybe_shut(self, side: _Side) -> None:
        if not side.eof_due or side.backlog or side.writing_shut or side.fd < 0:
            return
        side.writing_shut = True
        with contextlib.suppress(OSError):
            side.sock.shutdown(socket.SHUT_WR)
        peer = side.peer
        if peer is not None and peer.writing_shut:  # both directions ended
            self._close(side)

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        parent = os.getppid()
        looked = time.monotonic()
        due = self.due
        while True:
            now = time.time()
            while due and due[0][0] <= now:
                _, _, side, data = heapq.heappop(due)
                self._deliver(side, data)
            if due:
                wait = due[0][0] - now
                # epoll rounds its timeout up to whole milliseconds: wait it only for what
                # lies beyond the next millisecond, and sleep the rest exactly below.
                events = self.poller.poll(wait - 0.001 if wait > 0.001 else 0)
                if not events:
                    wait = due[0][0] - time.time()
                    if 0 < wait <= 0.001:
                        time.sleep(wait)
                    continue
            else:
                events = self.poller.poll(1.0)
            for fd, mask in events:
                if fd == self.listener.fileno():
                    self._accept()
                    continue
                ready = self.sides.get(fd)
                if ready is None:
                    continue
                if mask & select.EPOLLOUT and ready.backlog:
                    self._flush(ready)
                if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR) and ready.reading:
                    self._read(ready)
            if time.monotonic() - looked > 1.0:
                # The harness that started the forwarder may die without stopping it
                # (kill -9): a forwarder must not outlive it.
                looked = time.monotonic()
                if os.getppid() != parent:
                    return


def _die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux; the loop's own
    check of the parent is the fallback)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True, help="HOST:PORT (0: any)")
    parser.add_argument("--upstream", type=_address, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.5, help="added each way")
    args = parser.parse_args(argv)
    _die_with_parent()
    with socket.create_server(args.listen, backlog=1024) as listener:
        print(f"ready {listener.getsockname()[1]}", flush=True)
        Forwarder(listener, args.upstream, args.delay_ms / 1000).run()


if __name__ == "__main__":
    main(sys.argv[1:])
