"""Stored scope counts: kept in the transaction that changes a scope, read at once after."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.processors.apply import apply_file
from vigie.processors.assignments import import_assignments
from vigie.processors.counts import scope_sizes
from vigie.processors.directory import get_processor, summarise
from vigie.processors.models import ScopeCount
from vigie.processors.scope import scope_size
from vigie.store.base import utcnow

ACTOR = "operator:test"
People = Callable[..., list[int]]


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement run on ``engine`` inside the block."""
    seen: list[str] = []

    def log(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", log)


def _assign(s: Session, tmp_path: Path, rows: str, **kw: bool) -> None:
    path = tmp_path / "assign.csv"
    path.write_text("ref,starts_on,ends_on\n" + rows)
    import_assignments(
        s, processor="lingua-test", contract="language", path=path, actor=ACTOR, **kw
    )


def _stored(s: Session, pid: int) -> int | None:
    return s.scalar(select(ScopeCount.size).where(ScopeCount.processor_id == pid))


def test_the_count_changes_in_the_same_transaction_as_the_scope(
    applied: sessionmaker[Session], add_people: People, tmp_path: Path, processors_file: Path
) -> None:
    today = utcnow().date()
    soon = today + timedelta(days=3)
    with applied.begin() as s:
        add_people(s, 5)
        pid = get_processor(s, name="lingua-test").id
        _assign(
            s,
            tmp_path,
            f"TEST-00000001,2025-01-01,\nTEST-00000002,2025-01-01,{soon}\n"
            f"TEST-00000003,{soon},\nTEST-00000004,2025-01-01,2025-06-30\n",
        )
        assert _stored(s, pid) == 2 == scope_size(s, processor_id=pid, on=today)
    with applied.begin() as s:
        _assign(s, tmp_path, "TEST-00000005,2025-01-01,\n")
        assert _stored(s, pid) == 3
        _assign(s, tmp_path, "TEST-00000001,2025-01-01,\n", replace=True)
        assert _stored(s, pid) == 1
    # removing the contract empties the scope, in the apply's transaction
    processors_file.write_text(
        processors_file.read_text().replace("      - name: language\n", "      - name: langue\n")
    )
    with applied.begin() as s:
        apply_file(s, path=processors_file, actor=ACTOR)
        assert _stored(s, pid) == 0 == scope_size(s, processor_id=pid, on=today)


def test_processors_list_reads_the_counts_without_counting(
    applied: sessionmaker[Session], add_people: People, tmp_path: Path, engine: Engine
) -> None:
    today = utcnow().date()
    with applied.begin() as s:
        add_people(s, 4)
        _assign(s, tmp_path, "TEST-00000001,2025-01-01,\nTEST-00000002,2025-01-01,\n")
    with applied() as s, _statements(engine) as seen:
        rows = {r.name: r.scope_size for r in summarise(s, on=today, now=utcnow())}
    assert rows == {"lingua-test": 2, "other-test": 0}
    assert not [q for q in seen if "assignments" in q], seen


def test_a_count_past_its_next_change_is_counted_again(
    applied: sessionmaker[Session], add_people: People, tmp_path: Path, engine: Engine
) -> None:
    today = utcnow().date()
    with applied.begin() as s:
        add_people(s, 3)
        pid = get_processor(s, name="lingua-test").id
        _assign(
            s,
            tmp_path,
            f"TEST-00000001,2025-01-01,{today + timedelta(days=2)}\n"
            f"TEST-00000002,{today + timedelta(days=5)},\nTEST-00000003,2025-01-01,\n",
        )
    expected = {
        today: 2,
        today + timedelta(days=2): 2,  # person 1's last day
        today + timedelta(days=3): 1,
        today + timedelta(days=5): 2,  # person 2 starts
        today - timedelta(days=1): 2,  # a past day is counted, not taken from today's count
        date(2031, 1, 1): 0,  # the contract ended on 2030-12-31
    }
    for on, size in expected.items():
        with applied.begin() as s:
            assert scope_sizes(s, on=on)[pid] == size, on
            assert size == scope_size(s, processor_id=pid, on=on)
    with applied.begin() as s, _statements(engine) as seen:
        assert scope_sizes(s, on=date(2031, 1, 1))[pid] == 0  # stored: no count again
    assert not [q for q in seen if "assignments" in q], seen


def test_synth_stores_every_scope_size(engine: Engine, sessions: sessionmaker[Session]) -> None:
    from vigie.synth.load import synthesize

    synthesize(engine, people=300, seed=3, canary_density=0.0)
    today = utcnow().date()
    with sessions() as s:
        stored = dict(s.execute(select(ScopeCount.processor_id, ScopeCount.size)).all())
        assert sum(stored.values()) > 300
        assert stored == {
            pid: scope_size(s, processor_id=pid, on=today) for pid in stored
        }  # fmt: skip
        assert len(stored) == 27  # every processor


def test_concurrent_imports_store_a_count_that_misses_nobody(
    applied: sessionmaker[Session], add_people: People, tmp_path: Path
) -> None:
    import threading

    workers = 4
    with applied.begin() as s:
        add_people(s, 10 * workers)
        pid = get_processor(s, name="lingua-test").id
    files = []
    for w in range(workers):
        path = tmp_path / f"part{w}.csv"
        rows = "".join(f"TEST-{10 * w + i:08d},2025-01-01,\n" for i in range(1, 11))
        path.write_text("ref,starts_on,ends_on\n" + rows)
        files.append(path)
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def worker(path: Path) -> None:
        try:
            barrier.wait()
            with applied.begin() as s:
                import_assignments(
                    s, processor="lingua-test", contract="language", path=path, actor=ACTOR
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with applied() as s:
        assert (
            _stored(s, pid) == 10 * workers == scope_size(s, processor_id=pid, on=utcnow().date())
        )
