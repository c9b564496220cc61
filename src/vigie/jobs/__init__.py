"""Background work on a real queue in the store: leak analyses, audit verifications.

A job is a row of the ``jobs`` table (:mod:`vigie.jobs.models`), queued by a command or
a page (:mod:`vigie.jobs.tasks`), claimed and run by a ``vigie worker`` process
(:mod:`vigie.jobs.worker`) that keeps its heartbeat and progress fresh
(:mod:`vigie.jobs.queue`). The same mechanism on SQLite and PostgreSQL; see docs/jobs.md.
"""

from vigie.jobs.queue import queue_depth

__all__ = ["queue_depth"]
