"""A TCP proxy that delays every chunk by a fixed time in each direction: a slow link.

The hosts of the fleet harness (:mod:`tests.hosts`) reach PostgreSQL through it, because
``tc qdisc … netem`` is not available on every kernel (these machines' kernels lack it).
Each chunk read from one side is written to the other ``delay`` seconds after it was
read, in order, so the link's latency is added to every round trip whatever the load
(``--delay-ms 0.5`` adds 1 ms to each round trip: 0.5 ms each way, as ``netem delay``
on both ends of a link would).

Usage: ``python -m tests.delay_proxy --listen HOST:PORT --upstream HOST:PORT
--delay-ms 0.5``; it prints ``ready`` on stdout once it listens, and runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
from collections import deque


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    """Forward ``reader`` to ``writer``, each chunk ``delay`` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue: deque[tuple[float, bytes]] = deque()
    arrived = asyncio.Event()
    done = False

    async def pump() -> None:
        nonlocal done
        try:
            while data := await reader.read(262_144):
                queue.append((loop.time() + delay, data))
                arrived.set()
        except OSError:
            pass
        finally:
            done = True
            arrived.set()

    task = asyncio.create_task(pump())
    try:
        while True:
            if not queue:
                if done:
                    break
                arrived.clear()
                await arrived.wait()
                continue
            due, data = queue.popleft()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            # Chunks that are already due go out together before the next drain.
            while queue and queue[0][0] <= loop.time():
                writer.write(queue.popleft()[1])
            await writer.drain()
    except OSError:
        pass
    finally:
        task.cancel()
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()


async def _serve(listen: tuple[str, int], upstream: tuple[str, int], delay: float) -> None:
    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            u_reader, u_writer = await asyncio.open_connection(*upstream)
        except OSError:
            c_writer.close()
            return
        for w in (c_writer, u_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(_pipe(c_reader, u_writer, delay), _pipe(u_reader, c_writer, delay))
        for w in (c_writer, u_writer):
            w.close()

    server = await asyncio.start_server(handle, *listen, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=_address, required=True)
    parser.add_argument("--upstream", type=_address, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.5, help="added each way")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.listen, args.upstream, args.delay_ms / 1000))


if __name__ == "__main__":
    main(sys.argv[1:])
