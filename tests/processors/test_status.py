"""Suspension under real concurrency: several workers at once, exactly one suspends."""

from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import AuditEvent
from vigie.processors.keys import issue_key
from vigie.processors.status import suspend_key, suspend_processor

WORKERS = 6


def _race(sessions: sessionmaker[Session], action: object) -> list[bool]:
    barrier = threading.Barrier(WORKERS)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            with sessions.begin() as s:
                done = action(s)  # type: ignore[operator]
            with lock:
                results.append(bool(done))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def _events(sessions: sessionmaker[Session], action: str) -> int:
    with sessions() as s:
        count = s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
        return int(count or 0)


def test_concurrent_processor_suspension_happens_once(applied: sessionmaker[Session]) -> None:
    results = _race(
        applied,
        lambda s: suspend_processor(
            s, name="lingua-test", reason="bulk reads", actor="system:detection"
        ),
    )
    assert sorted(results) == [False] * (WORKERS - 1) + [True]
    assert _events(applied, "processor:suspend") == 1


def test_concurrent_key_suspension_happens_once(applied: sessionmaker[Session]) -> None:
    with applied.begin() as s:
        key_id = issue_key(s, processor="lingua-test", actor="operator:test").key_id
    results = _race(
        applied,
        lambda s: suspend_key(s, key_id=key_id, reason="probing", actor="system:detection"),
    )
    assert sorted(results) == [False] * (WORKERS - 1) + [True]
    assert _events(applied, "key:suspend") == 1
