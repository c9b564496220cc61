"""Serve an ASGI app on a loopback port in a thread: real HTTP for the simulators.

The benchmark and the tests run the gateway this way so that the attack simulator talks
to it exactly as it talks to ``vigie serve`` — TCP, HTTP/1.1, JSON — while sharing the
process (and so the :class:`~vigie.detection.pacing.DrivenClock`) with it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Any, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Run ``app`` on ``127.0.0.1``; yield its base URL; stop it on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="vigie-loopback", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the loopback server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
