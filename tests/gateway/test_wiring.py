"""What ``vigie serve`` plugs in: checkpoints also come on an idle server, and at shutdown."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.audit.conftest import fill
from vigie.audit.checkpoints import Checkpointer, take
from vigie.audit.models import AuditCheckpoint
from vigie.gateway.app import create_app
from vigie.gateway.wiring import CheckpointTimer, run_during
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings


def count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(AuditCheckpoint)) or 0


def anchored_then_appended(sessions: sessionmaker[Session], secrets: InstanceSecrets) -> None:
    """A checkpoint, then one event after it: nothing is due by count."""
    with sessions.begin() as s:
        fill(s, 3)
        take(s, signing_key=secrets.signing_key, actor="operator:cli")
    with sessions.begin() as s:
        fill(s, 1)


def test_timer_signs_on_an_idle_server_once_the_interval_passes(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    anchored_then_appended(sessions, secrets)
    checkpointer = Checkpointer(
        sessions=sessions, signing_key=secrets.signing_key, every_events=1000, every_seconds=0.3
    )
    timer = CheckpointTimer(checkpointer, period=0.05)
    timer.start()
    try:
        deadline = time.monotonic() + 10
        while count(sessions) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        timer.stop()
    assert count(sessions) == 2  # one more, by time alone, then nothing is due


@pytest.mark.anyio
async def test_server_anchors_its_tail_at_shutdown(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    anchored_then_appended(sessions, secrets)
    checkpointer = Checkpointer(
        sessions=sessions, signing_key=secrets.signing_key, every_events=1000, every_seconds=3600
    )
    app = run_during(
        create_app(settings, engine=engine, secrets=secrets), CheckpointTimer(checkpointer)
    )
    async with app.router.lifespan_context(app):  # what uvicorn runs around a worker
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            assert (await client.get("/api/v1/openapi.json")).status_code == 200
        assert count(sessions) == 1  # not due: 1 event, a fresh checkpoint
    assert count(sessions) == 2


def test_the_checkpointer_is_asked_after_a_tenth_of_its_event_interval(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
) -> None:
    from vigie.gateway.wiring import EveryFew, default_after_commit

    [hook] = default_after_commit(settings, engine, secrets=secrets)
    assert isinstance(hook, EveryFew)
    assert hook.calls == min(1000, settings.audit_checkpoint_every_events // 10)
    small = settings.model_copy(update={"audit_checkpoint_every_events": 20})
    [hook] = default_after_commit(small, engine, secrets=secrets)
    with sessions.begin() as s:
        fill(s, 25)
    assert count(sessions) == 0
    hook()
    hook()  # the second call of two: asked whatever the clock says
    assert count(sessions) == 1
