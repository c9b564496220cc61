"""Processes appending at once keep one unbroken chain; a killed one leaves no half event."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.audit import audit_workers  # importable by spawned children
from vigie.audit.index import received_by
from vigie.audit.models import AuditCheckpoint, AuditEvent
from vigie.audit.verify import verify_trail
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

SPAWN = multiprocessing.get_context("spawn")


def test_concurrent_appenders_keep_one_chain(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    workers, rounds = 4, 10
    start, ready, stop = SPAWN.Event(), SPAWN.Event(), SPAWN.Event()
    url = settings.resolved_database_url
    procs = [
        SPAWN.Process(target=audit_workers.appender, args=(url, w, rounds, start))
        for w in range(1, workers + 1)
    ]
    procs.append(
        SPAWN.Process(
            target=audit_workers.checkpointer,
            args=(url, str(settings.resolved_secrets_dir), ready, stop),
        )
    )
    for p in procs:
        p.start()
    assert ready.wait(60)  # the checkpointer runs before the appenders start
    start.set()
    for p in procs[:-1]:
        p.join(120)
    stop.set()
    procs[-1].join(60)
    assert [p.exitcode for p in procs] == [0] * (workers + 1)
    report = verify_trail(engine, public_key=secrets.verify_key)
    with sessions() as s:
        checkpoints = s.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0
        query = select(AuditEvent.actor, func.count()).group_by(AuditEvent.actor)
        by_actor = {actor: count for actor, count in s.execute(query)}
        for w in range(1, workers + 1):
            assert received_by(s, processor_id=w) == {w * 1000 + i for i in range(rounds)}
    assert report.events == workers * rounds * 4 + checkpoints
    assert checkpoints >= 1 and report.checkpoints == checkpoints  # how many: timing
    for w in range(1, workers + 1):
        assert by_actor[f"processor:w{w}/key:{w}"] == rounds
        assert by_actor[f"system:w{w}"] == 3 * rounds


@pytest.mark.slow
def test_killing_an_appender_leaves_a_trail_that_verifies(
    settings: Settings, engine: Engine, secrets: InstanceSecrets
) -> None:
    rng = random.Random(3)
    url = settings.resolved_database_url
    for _ in range(3):
        ready = SPAWN.Event()
        child = SPAWN.Process(target=audit_workers.endless, args=(url, ready))
        child.start()
        assert ready.wait(60)
        time.sleep(rng.uniform(0.0, 0.15))
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(30)
        assert child.exitcode == -signal.SIGKILL
        report = verify_trail(engine, public_key=secrets.verify_key)
        assert report.events > 0
