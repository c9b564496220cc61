"""The metrics directory that lets ``vigie serve --workers N`` export one set of metrics.

prometheus-client keeps each worker's values in memory-mapped files under
``PROMETHEUS_MULTIPROC_DIR`` and merges them at each scrape (:func:`vigie.ops.metrics.exposition`),
whichever worker answers. The variable must be set before a worker imports the client, so
the supervising process sets it before it starts them: the operator's own directory if
``PROMETHEUS_MULTIPROC_DIR`` is set, else ``DATA_DIR/metrics`` when there is more than one
worker. The directory's files are deleted first: values of a previous run would otherwise
be added to this one's (counters would jump, gauges of dead workers linger).
"""

from __future__ import annotations

import os
from pathlib import Path

from vigie.settings import Settings

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare(settings: Settings, *, workers: int) -> Path | None:
    """Name and empty the metrics directory for ``workers`` to come; None for one worker
    and no directory asked for (values then live in the one process)."""
    named = os.environ.get(VARIABLE)
    if not named and workers <= 1:
        return None
    directory = Path(named) if named else settings.data_dir.resolve() / "metrics"
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[VARIABLE] = str(directory)
    return directory
