"""Group commit of the public service's queued requests: one transaction for many.

Every self-check and report request is one queued job (:mod:`vigie.public.tasks`). Written
one transaction per request, each costs a thread hop, a ``BEGIN IMMEDIATE``, an
``INSERT`` and a ``COMMIT``. :class:`GroupCommit` gathers the requests that arrive while
the previous batch is being written and writes them together: one thread hop, one
transaction and one ``INSERT`` (executemany) per batch. A request's answer waits for its
batch's commit, so "accepted" still means "in the store" (the queue survives a restart),
and when the commit fails every request of the batch is refused alike (fail closed).

Writes run in threads of their own, so the event loop keeps answering. A few batches
may be in flight at once (``in_flight``): on SQLite a writer that finds the lock taken
(by the job worker answering the queue) sleeps in SQLite's busy handler for up to tens
of milliseconds, and one sleeping batch must not hold back every request behind it. The
batch is the same work for every contact: nothing here depends on who asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Row = dict[str, Any]


class GroupCommit:
    """Writes rows with ``write`` (one transaction per call), batching concurrent callers."""

    def __init__(
        self,
        write: Callable[[Sequence[Row]], None],
        *,
        max_batch: int = 256,
        in_flight: int = 4,
    ) -> None:
        self._write = write
        self._max = max_batch
        self._limit = in_flight
        self._pending: list[tuple[Row, asyncio.Future[None]]] = []
        self._flying = 0  # batches being written
        self._scheduled = False  # a flush is due at the end of this turn of the loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(in_flight, thread_name_prefix="vigie-public-queue")

    async def put(self, row: Row) -> None:
        """Write ``row`` with the next batch; return once it is committed (raise if not)."""
        loop = asyncio.get_running_loop()
        if self._loop not in (loop, None) and self._loop.is_closed():
            # a loop that ended mid-batch (tests run one loop per call)
            self._pending, self._flying, self._scheduled = [], 0, False
        self._loop = loop
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((row, done))
        if not self._scheduled and self._flying < self._limit:
            self._scheduled = True
            loop.call_soon(self._flush, loop)  # after the requests of this turn of the loop
        await done

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        if not self._pending:
            return
        self._flying += 1
        batch, self._pending = self._pending[: self._max], self._pending[self._max :]
        written = loop.run_in_executor(self._executor, self._write, [row for row, _ in batch])
        written.add_done_callback(lambda w: self._done(loop, batch, w))

    def _done(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: list[tuple[Row, asyncio.Future[None]]],
        written: asyncio.Future[None],
    ) -> None:
        error = written.exception()
        for _, done in batch:
            if done.done():  # the client left; its row is written all the same
                continue
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(None)
        self._flying -= 1
        if self._pending and not self._scheduled:
            self._flush(loop)

    def close(self) -> None:
        """Stop the writer threads (after the batches in flight)."""
        self._executor.shutdown(wait=True)
