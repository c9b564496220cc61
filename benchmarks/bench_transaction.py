"""A gateway transaction's fixed CPU on PostgreSQL: a new ORM session against a pooled
connection with a bound session (:func:`vigie.gateway.transaction.pooled`).

Each transaction is what a request's costs before its own statements' work: the
transaction opened with its first statements (``BEGIN`` folded in their pipeline,
:mod:`vigie.store.pipeline`), the driver cursor looked up at each of a read's four hot
call sites (:func:`vigie.store.raw.cursor`), a trivial statement at each, and the
``COMMIT``. Thread CPU per transaction (``time.thread_time``), the minimum and the median
of ``BENCH_ROUNDS`` rounds (default 7) of ``BENCH_N`` transactions (default 1,000), the
two ways alternated round by round, on ``VIGIE_TEST_POSTGRES_URL`` (loopback).

Usage: ``python -m benchmarks transaction``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy.orm import Session

PG_URL = os.environ.get("VIGIE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
N = int(os.environ.get("BENCH_N", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def main() -> None:
    from vigie.gateway import transaction
    from vigie.store import raw
    from vigie.store.engine import make_engine, make_session_factory

    engine = make_engine(PG_URL)
    sessions = make_session_factory(engine)
    one = raw.Statement("SELECT ?::int")

    def request(session: Session) -> None:
        raw.cursor(session).together([(one, (1,)), (one, (2,))])  # BEGIN + two statements
        for i in range(3):
            raw.cursor(session).one(one, (i,))

    ways: dict[str, Callable[[], AbstractContextManager[Session]]] = {
        "ORM session (sessionmaker.begin)": sessions.begin,
        "pooled connection, bound session": lambda: transaction.pooled(engine),
    }
    seen: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(ROUNDS):
        for name, begin in ways.items():
            start = time.thread_time()
            for _ in range(N):
                with begin() as session:
                    request(session)
            seen[name].append((time.thread_time() - start) / N * 1e6)
    print(f"load average: {os.getloadavg()[0]:.1f}; {ROUNDS} rounds of {N} transactions")
    print("| transaction | min µs | median µs |")
    print("|---|---|---|")
    for name, us in seen.items():
        print(f"| {name} | {min(us):,.0f} | {statistics.median(us):,.0f} |")
    engine.dispose()
