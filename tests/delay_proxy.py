"""A TCP proxy that delays every chunk by a fixed time in each direction: a slow link.

The hosts of the fleet harness (:mod:`tests.hosts`) reach PostgreSQL through it, because
``tc qdisc … netem`` is not available on every kernel (these machines' kernels lack it).
Each chunk read from one side is written to the other ``delay`` seconds after it was
read, in order, so the link's latency is added to every round trip whatever the load
(``--delay-ms 0.5`` adds 1 ms to each round trip: 0.5 ms each way, as ``netem delay``
on both ends of a link would).

Usage: ``python -m tests.delay_proxy --listen HOST:PORT --upstream HOST:PORT
--delay-ms 0.5``; it prints ``ready`` on stdout once it listens, and runs until killed
or until its parent is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import threading
import time
from collections import deque


def _pipe(src: socket.socket, dst: socket.socket, delay: float) -> None:
    """Forward ``src`` to ``dst``, each chunk ``delay`` seconds after it arrived.

    Threads and ``time.sleep`` rather than an event loop: asyncio's timers wait whole
    milliseconds (``sleep(0.0005)`` takes 1.1 ms) and uvloop's round 0.5 ms to nothing,
    while ``time.sleep`` keeps within about 0.1 ms.
    """
    queue: deque[tuple[float, bytes]] = deque()
    ready = threading.Condition()

    def read() -> None:
        try:
            while data := src.recv(262_144):
                with ready:
                    queue.append((time.monotonic() + delay, data))
                    ready.notify()
        except OSError:
            pass
        with ready:
            queue.append((0.0, b""))  # end of stream
            ready.notify()

    threading.Thread(target=read, daemon=True).start()
    try:
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, data = queue.popleft()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def _connection(client: socket.socket, upstream: tuple[str, int], delay: float) -> None:
    try:
        server = socket.create_connection(upstream)
    except OSError:
        client.close()
        return
    for sock in (client, server):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pipe, args=(server, client, delay), daemon=True)
    back.start()
    _pipe(client, server, delay)
    back.join()
    client.close()
    server.close()


def _orphan_watch() -> None:
    # The harness that started the forwarder may die without stopping it (kill -9):
    # a forwarder must not outlive it.
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _serve(listen: tuple[str, int], upstream: tuple[str, int], delay: float) -> None:
    threading.Thread(target=_orphan_watch, daemon=True).start()
    with socket.create_server(listen, backlog=1024) as server:
        print("ready", flush=True)
        while True:
            client, _ = server.accept()
            threading.Thread(
                target=_connection, args=(client, upstream, delay), daemon=True
            ).start()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True)
    parser.add_argument("--upstream", type=_address, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.5, help="added each way")
    args = parser.parse_args(argv)
    _serve(args.listen, args.upstream, args.delay_ms / 1000)


if __name__ == "__main__":
    main(sys.argv[1:])
