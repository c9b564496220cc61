"""Child-process bodies for the concurrency tests (importable by ``spawn``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vigie.audit.actions import Action
from vigie.audit.checkpoints import Checkpointer
from vigie.audit.trail import NewEvent, append, append_many
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
