"""One gateway writer at a time on SQLite, handed over without sleeping.

SQLite lets one write transaction run at a time. A second writer that finds the lock
taken does not queue: SQLite's busy handler makes it *sleep* and retry (1, 2, 5 … 100 ms),
so under a dozen concurrent requests most of the time goes to sleeping, and p99 latency
reaches a second. Every gateway request writes (rate count, ledger, audit), so the
gateway queues its requests itself: a thread lock within a worker process and an
``flock`` on a file next to the database across worker processes. Both wake the next
writer the moment the lock is released.

PostgreSQL needs none of this (row locks queue); there the lock is a no-op.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from sqlalchemy import Engine


class WriterQueue:
    """Serialises the gateway's units of work on a SQLite file; no-op elsewhere."""

    def __init__(self, engine: Engine) -> None:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        self._path = f"{database}.gateway-lock" if database and database != ":memory:" else None
        self._enabled = engine.dialect.name == "sqlite"
        self._thread_lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._pid = 0

    def _lock_file(self) -> IO[bytes] | None:
        if self._path is None:
            return None
        if self._file is None or self._pid != os.getpid():  # reopen after a fork
            self._file = open(self._path, "ab")  # noqa: SIM115 - held for the process's life
            self._pid = os.getpid()
        return self._file

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the writer's turn for the duration of the block."""
        if not self._enabled:
            yield
            return
        with self._thread_lock:
            handle = self._lock_file()
            if handle is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if handle is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
