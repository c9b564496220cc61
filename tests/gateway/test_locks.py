"""What a request locks on PostgreSQL: its own processor's row, last, and nothing shared.

- Deterministic contention: while processor A's lock is held (a transaction stopped
  right after :func:`vigie.gateway.budget.settle`), a request of processor B is answered,
  and a request of A waits on a lock (seen in ``pg_stat_activity``) and is answered once
  the holder commits.
- Threaded exactness: many threads, single reads and pages of overlapping people, over two
  days: never one person past a budget, and the ledger, the day buckets, the answers and
  the audit events say the same.

SQLite is skipped: its transactions are exclusive (one writer at a time by design).
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from tests.gateway.conftest import Api, World
from vigie.audit.canonical import decode_subjects
from vigie.audit.models import AuditPending
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.gateway import budget
from vigie.gateway.models import LedgerEntry
from vigie.policy.view import Budget
from vigie.store.base import utcnow

SUBJECTS = "/api/v1/subjects"


def _postgres_only(world: World) -> None:
    if world.engine.dialect.name != "postgresql":
        pytest.skip("SQLite transactions are exclusive: one writer at a time by design")


def _waiting_on_a_lock(world: World) -> int:
    with world.engine.connect() as conn:
        return int(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def test_a_processor_holding_its_lock_does_not_block_another(world: World) -> None:
    _postgres_only(world)
    ids = world.people(4)
    world.assign(world.processor("alpha"), ids[:2])
    world.assign(world.processor("beta"), ids[2:])
    world.now = utcnow()
    a, b = world.processor_id("alpha"), world.processor_id("beta")
    tokens = {a: world.key("alpha"), b: world.key("beta")}
    api = world.api(staged=True)

    def read(pid: int, subject_id: int, out: list[int]) -> threading.Thread:
        path = f"{SUBJECTS}/{Pseudonymiser(world.secrets, pid).encode(subject_id)}"
        thread = threading.Thread(
            target=lambda: out.append(api.get(path, token=tokens[pid]).status_code)
        )
        thread.start()
        return thread

    alpha_answers: list[int] = []
    beta_answers: list[int] = []
    with world.sessions() as holder:
        # Processor A's lock, as a request stopped between its charge and its commit holds it.
        view = holder.execute(
            text(
                "SELECT budget_per_day, budget_per_30_days, rate_per_minute FROM contracts "
                "WHERE processor_id = :p"
            ),
            {"p": a},
        ).one()
        budget.settle(
            holder,
            processor_id=a,
            subject_ids=[ids[0]],
            now=world.now,
            budget=Budget(per_day=view[0], per_30_days=view[1], rate_per_minute=view[2]),
        )
        alpha = read(a, ids[1], alpha_answers)
        deadline = time.monotonic() + 30
        while _waiting_on_a_lock(world) < 1:  # A's second request reached A's lock
            assert time.monotonic() < deadline, "A's request never waited on A's lock"
            assert alpha.is_alive(), f"A's request did not wait for A's lock: {alpha_answers}"
            time.sleep(0.02)
        beta = read(b, ids[2], beta_answers)
        beta.join(30)
        assert beta_answers == [200]  # B answered while A's lock was held
        assert alpha.is_alive() and alpha_answers == []  # A still waits for its own lock
        holder.commit()
    alpha.join(30)
    assert alpha_answers == [200]


def _granted(api: Api, token: str, path: str, params: dict[str, object]) -> tuple[int, list[str]]:
    r = api.get(path, token=token, params=params)
    if r.status_code != 200:
        return r.status_code, []
    body = r.json()
    records = body.get("data", [body])
    return 200, [rec["pseudonym"] for rec in records]


def _run_threads(world: World, api: Api, token: str, pseudonyms: list[str]) -> set[str]:
    """8 threads: 4 read single people in their own order, 4 walk pages; the people sent."""
    sent: set[str] = set()
    codes: set[int] = set()
    lock = threading.Lock()

    def reader(seed: int) -> None:
        order = pseudonyms[:]
        random.Random(seed).shuffle(order)
        for p in order:
            code, got = _granted(api, token, f"{SUBJECTS}/{p}", {})
            with lock:
                codes.add(code)
                sent.update(got)

    def pager(limit: int) -> None:
        cursor: str | None = None
        while True:
            params: dict[str, object] = {"limit": limit}
            if cursor:
                params["cursor"] = cursor
            r = api.get(SUBJECTS, token=token, params=params)
            with lock:
                codes.add(r.status_code)
            if r.status_code != 200:
                return
            with lock:
                sent.update(rec["pseudonym"] for rec in r.json()["data"])
            cursor = r.json()["next_cursor"]
            if not cursor:
                return

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=pager, args=(3 + 2 * i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert codes <= {200, 429}, codes
    return sent


def _ledger(world: World, pid: int) -> tuple[int, int]:
    """Distinct people in the ledger: last disclosed today, and within the 30 days."""
    on = world.now.date()
    since = on - timedelta(days=budget.WINDOW_DAYS - 1)
    with world.sessions() as s:
        today = s.scalar(
            select(func.count()).where(LedgerEntry.processor_id == pid, LedgerEntry.last_day == on)
        )
        window = s.scalar(
            select(func.count()).where(
                LedgerEntry.processor_id == pid, LedgerEntry.last_day >= since
            )
        )
    return int(today or 0), int(window or 0)


@pytest.mark.slow
def test_budgets_are_exact_under_threads_over_two_days(world: World) -> None:
    _postgres_only(world)
    per_day, per_30 = 30, 45
    ids = world.people(90)
    world.assign(world.processor("lingua", per_day=per_day, per_30_days=per_30), ids)
    world.now = utcnow().replace(hour=12)
    pid = world.processor_id("lingua")
    token = world.key("lingua")
    pseudo = Pseudonymiser(world.secrets, pid)
    pseudonyms = [pseudo.encode(i) for i in ids]
    api = world.api(staged=True)

    first = _run_threads(world, api, token, pseudonyms)
    assert len(first) == per_day  # never one person more, and the whole budget used
    with world.sessions() as s:
        assert budget.usage(s, processor_id=pid, on=world.now.date()) == (per_day, per_day)
    assert _ledger(world, pid) == (per_day, per_day)

    world.advance(timedelta(days=1))  # yesterday's people cost today, not the 30 days
    second = _run_threads(world, api, token, pseudonyms)
    fresh = second - first
    assert len(second) == per_day
    assert len(fresh) <= per_30 - per_day  # the 30-day budget bounds the new people
    month = per_day + len(fresh)
    with world.sessions() as s:
        assert budget.usage(s, processor_id=pid, on=world.now.date()) == (per_day, month)
    assert _ledger(world, pid) == (per_day, month)

    with world.sessions() as s:
        audited: set[int] = set()
        for blob in s.scalars(select(AuditPending.subjects)):
            if blob:
                audited |= set(decode_subjects(blob))
    assert {pseudo.decode(p) for p in first | second} == audited
