"""The private DuckDB workspace of one triage process, held within the memory bound.

Every process of triage (``vigie leak analyze``, ``vigie leak prepare``, the job worker's
analysis) opens its DuckDB here, so that all of them respect the setting
``leak_memory_limit_mb``:

- DuckDB gets :func:`duckdb_limit_mb` of it (half) as ``memory_limit`` (the rest is left to the
  Python interpreter, the file reader's 8 MiB chunks and the registry copy's batches),
  and a ``temp_directory`` in the process' private work directory (mode 0700) to spill
  to when a join or a grouping does not fit: DuckDB's larger-than-memory execution;
- ``preserve_insertion_order`` stays on (the reader numbers lines in file order).

:class:`Meter` reports how far the current phase has gone and how long it has left: a
phase whose amount of work is known (bytes read, registry rows copied) gives its own
fraction; otherwise the fraction of the DuckDB query running, read from another thread
with ``query_progress()``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

Progress = Callable[[str], None]
DUCKDB_SHARE = 0.5  # of the bound, for DuckDB's buffer manager
MIN_DUCKDB_MB = 96
TICK_SECONDS = 1.0


def duckdb_limit_mb(limit_mb: int) -> int:
    """DuckDB's ``memory_limit`` (MB) under a process bound of ``limit_mb``."""
    return max(MIN_DUCKDB_MB, int(limit_mb * DUCKDB_SHARE))


def connect(work: Path, *, limit_mb: int) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB bounded to :func:`duckdb_limit_mb`, spilling under ``work``."""
    con = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": f"{duckdb_limit_mb(limit_mb)}MB",
            "temp_directory": str(work / "spill"),
        },
    )
    con.execute("SET enable_progress_bar = true")  # query_progress() needs it
    con.execute("SET enable_progress_bar_print = false")
    return con


@contextmanager
def workspace(
    data_dir: Path, *, prefix: str, limit_mb: int
) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A bounded DuckDB and a private work directory under ``data_dir/leak-work``, both
    removed at the end (spill files, working copies, the decrypted snapshot)."""
    base = data_dir / "leak-work"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    work.chmod(0o700)
    con = connect(work, limit_mb=limit_mb)
    try:
        yield con, work
    finally:
        con.close()
        shutil.rmtree(work, ignore_errors=True)


def left(fraction: float, elapsed: float) -> str | None:
    """ "about N s left" from the share done after ``elapsed`` seconds (None: unknown)."""
    if not 0.01 <= fraction < 1.0 or elapsed < 1.0:
        return None
    seconds = elapsed * (1.0 - fraction) / fraction
    if seconds >= 90:
        return f"about {seconds / 60:.0f} min left"
    return f"about {max(seconds, 1):.0f} s left"


class Meter:
    """Reports the phase under way with its share done and the time it has left.

    ``phase(name)`` announces a phase; while it runs, a thread reports every
    :data:`TICK_SECONDS` the fraction given by ``fraction`` (when the phase knows its
    amount of work) or else the running DuckDB query's own progress.
    """

    def __init__(self, report: Progress, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self._report = report
        self._con = con

    @contextmanager
    def phase(self, name: str, fraction: Callable[[], float] | None = None) -> Iterator[None]:
        self._report(name)
        started = time.monotonic()
        query: list[float] = [started, -1.0]  # when the running query began, its last share
        stop = threading.Event()

        def share() -> tuple[float, float]:
            now = time.monotonic()
            if fraction is not None:
                return fraction(), now - started
            if self._con is None:
                return -1.0, 0.0
            p = self._con.query_progress() / 100.0
            if p < 0 or p < query[1]:  # a new query began
                query[0] = now
            query[1] = p
            return p, now - query[0]

        raised: list[BaseException] = []

        def tick() -> None:
            while not stop.wait(TICK_SECONDS):
                try:
                    done, elapsed = share()
                except duckdb.Error:
                    continue
                if done < 0:
                    continue
                eta = left(done, elapsed)
                scope = "" if fraction is not None else " of the current step"
                try:
                    self._report(f"{name}: {done:.0%}{scope} done" + (f", {eta}" if eta else ""))
                except Exception as exc:  # e.g. a job cancelled: raised when the phase ends
                    raised.append(exc)
                    return

        thread = threading.Thread(target=tick, name=f"progress-{name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        if raised:
            raise raised[0]
