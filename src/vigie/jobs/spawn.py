"""A worker process alongside the listeners of ``vigie serve``.

:func:`worker_alongside` starts ``vigie worker`` as a child process, with the same
environment (hence the same settings), for as long as the listeners run, then stops it
as SIGTERM would: the job it is running goes back to the queue at its next progress
report. A worker that does not stop within :data:`STOP_TIMEOUT_SECONDS` is killed; its
job is recovered by the next worker once its heartbeat is stale. The child is not
restarted if it dies: deployments that need that run ``vigie worker`` under their
supervisor (systemd, compose) and ``vigie serve --no-worker``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_TIMEOUT_SECONDS = 30.0
PARENT_POLL_SECONDS = 1.0


def spawn_worker() -> subprocess.Popen[bytes]:
    """Start ``vigie worker`` as a child of this process, with its environment; it stops
    by itself if this process dies without stopping it."""
    code = "from vigie.cli.app import main; main()"
    command = [sys.executable, "-c", code, "worker", "--parent", str(os.getpid())]
    return subprocess.Popen(command)  # noqa: S603 - our own interpreter and arguments


def follow_parent(parent: int, stop: Callable[[], None]) -> threading.Thread:
    """Call ``stop`` once process ``parent`` is no longer this process's parent (it died)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        stop()

    thread = threading.Thread(target=watch, daemon=True, name="follow-parent")
    thread.start()
    return thread


def stop_worker(process: subprocess.Popen[bytes], *, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
    """Stop the worker gracefully (SIGTERM), or kill it after ``timeout``; its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


@contextmanager
def worker_alongside(*, enabled: bool = True) -> Iterator[subprocess.Popen[bytes] | None]:
    """Run one worker process for the duration of the block (none if not ``enabled``)."""
    if not enabled:
        yield None
        return
    process = spawn_worker()
    try:
        yield process
    finally:
        stop_worker(process)
