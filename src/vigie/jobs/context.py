"""What a running job is given: the instance, its actor, and a progress callback.

A job reports progress through :meth:`JobContext.progress`; that call is also where it
is stopped, cooperatively: it raises :class:`Cancelled` when an operator cancelled the
job, :class:`Interrupted` when its worker is shutting down, and
:class:`vigie.jobs.queue.LeaseLost` when the job was taken over by another worker. These
derive from ``BaseException`` (as ``asyncio.CancelledError`` does) so that a job's own
``except Exception`` cannot swallow them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

# Progress with the same phase is written at most this often; a new phase at once.
PROGRESS_EVERY_SECONDS = 0.5


class Cancelled(BaseException):
    """An operator cancelled the job."""


class Interrupted(BaseException):
    """The worker is shutting down; the job goes back to the queue."""


Report = Callable[[str, int | None, int | None], None]


@dataclass
class JobContext:
    """The instance a job runs in, who asked for it, and where it reports progress.

    ``reader`` is an engine for long reads: on SQLite its transactions take no write lock
    (:func:`vigie.store.engine.make_read_engine`), so a job reading for minutes leaves
    the store writable — for its own progress reports too.
    """

    job_id: int
    actor: str
    settings: Settings
    secrets: InstanceSecrets
    engine: Engine
    reader: Engine
    sessions: sessionmaker[Session]
    report: Report = field(repr=False)
    _last: tuple[str, float] | None = field(default=None, repr=False)

    def progress(self, phase: str, done: int | None = None, total: int | None = None) -> None:
        """Record that the job is in ``phase``, ``done`` of ``total`` (both optional).

        A new phase, or the last step of one, is written at once; steps within a phase at
        most every :data:`PROGRESS_EVERY_SECONDS`. Raises to stop the job (see above).
        """
        now = time.monotonic()
        last = self._last
        if (
            last is not None
            and last[0] == phase
            and now - last[1] < PROGRESS_EVERY_SECONDS
            and (done is None or done != total)
        ):
            return
        self._last = (phase, now)
        self.report(phase, done, total)
