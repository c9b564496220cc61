"""Fixtures of the job tests: a worker on the test instance, with the test job kinds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.cli.conftest import cli
from tests.jobs.job_kinds import KINDS
from vigie.jobs.worker import Worker
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings


@pytest.fixture
def worker(settings: Settings, secrets: InstanceSecrets, engine: Engine) -> Iterator[Worker]:
    """An in-process worker that knows the real kinds and the test ones."""
    from vigie.jobs.kinds import KINDS as REAL

    w = Worker(settings=settings, secrets=secrets, engine=engine, kinds={**REAL, **KINDS})
    yield w
    w.close()


__all__ = ["cli", "worker"]
