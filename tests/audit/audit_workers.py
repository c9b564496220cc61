"""Child-process bodies for the concurrency tests (importable by ``spawn``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from vigie.audit.actions import Action
from vigie.audit.checkpoints import Checkpointer
from vigie.audit.sequencer import SequencerService
from vigie.audit.trail import NewEvent, append, append_many, stage
from vigie.secrets import load_secrets
from vigie.store.engine import make_engine, make_session_factory


def appender(url: str, worker: int, rounds: int, start: Any) -> None:
    """Append ``rounds`` single events and ``rounds`` batches of 3, as a gateway worker would."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    start.wait()
    try:
        for i in range(rounds):
            with sessions.begin() as s:
                append(
                    s,
                    action=Action.SUBJECT_READ,
                    actor=f"processor:w{worker}/key:{worker}",
                    processor_id=worker,
                    key_id=worker,
                    subject_ids=[worker * 1000 + i],
                    fields=["name"],
                )
            with sessions.begin() as s:
                append_many(
                    s,
                    [
                        NewEvent(
                            action=Action.ACCESS_DENIED, actor=f"system:w{worker}", outcome="denied"
                        )
                    ]
                    * 3,
                )
    finally:
        engine.dispose()


def checkpointer(url: str, secrets_dir: str, ready: Any, stop: Any) -> None:
    """Take checkpoints every few events while the appenders run."""
    engine = make_engine(url)
    auto = Checkpointer(
        sessions=make_session_factory(engine),
        signing_key=load_secrets(Path(secrets_dir)).signing_key,
        every_events=7,
        every_seconds=3600,
    )
    ready.set()
    try:
        while not stop.wait(0.01):
            auto.maybe_checkpoint()
        auto.maybe_checkpoint()  # and one after the appenders are done
    finally:
        engine.dispose()


def endless(url: str, ready: Any) -> None:
    """Append and commit until killed."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    i = 0
    while True:
        with sessions.begin() as s:
            append(
                s,
                action=Action.SUBJECT_LIST,
                actor="processor:k/key:1",
                processor_id=1,
                subject_ids=list(range(i, i + 50)),
                fields=["name", "email"],
                detail={"page": i},
            )
        i += 1
        ready.set()


def stager(url: str, worker: int, stop: Any, count: Any) -> None:
    """Stage single disclosures until ``stop``, counting the committed ones in ``count``."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    i = 0
    while not stop.is_set():
        with sessions.begin() as s:
            stage(
                s,
                [
                    NewEvent(
                        action=Action.SUBJECT_READ,
                        actor=f"processor:s{worker}/key:{worker}",
                        processor_id=worker,
                        key_id=worker,
                        subject_ids=[worker * 100_000 + i],
                        fields=["name"],
                    )
                ],
            )
        with count.get_lock():
            count.value += 1
        i += 1
    engine.dispose()


def sequencer(
    url: str,
    secrets_dir: str,
    started: Any,
    elected: Any,
    deposed: Any = None,
    lease_seconds: float = 3.0,
) -> None:
    """Run a sequencer service until killed; set ``started`` once its thread has run a
    few rounds, ``elected`` once it holds the seat, ``deposed`` if it loses it after."""
    engine = make_engine(url)
    service = SequencerService(
        engine,
        Checkpointer(
            sessions=make_session_factory(engine),
            signing_key=load_secrets(Path(secrets_dir)).signing_key,
            every_events=50,
            every_seconds=3600,
        ),
        poll=0.02,
        batch=20,
        lease_seconds=lease_seconds,
    )
    service.start()
    time.sleep(0.5)  # ten rounds of asking
    started.set()
    while not service.elected.wait(0.01):
        pass
    elected.set()
    while True:
        time.sleep(0.05)
        if deposed is not None and not service.elected.is_set():
            deposed.set()
