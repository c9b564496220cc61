"""The audit trail's retention on SQLite: what pruning costs, and what it does to verify.

Figures printed, on a trail of ``VIGIE_BENCH_PRUNE_EVENTS`` disclosures (default 400,000;
one person each, four fields, three processors), half of them past the retention period,
with a signed checkpoint over all of them:

- verify before: ``verify_trail`` over the unpruned trail (events/s), the peer baseline;
- prune: one ``prune`` (the run ``vigie retention run`` makes): events/s and seconds,
  with the served index brought in line;
- verify after: the same trail with half its disclosures pruned (events/s) and its ratio
  to the unpruned verification;
- database size before and after (``VACUUM``ed), what the people's ids weighed.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from vigie.audit.actions import Action
from vigie.audit.checkpoints import take
from vigie.audit.pruning import prune
from vigie.audit.trail import NewEvent, append_many
from vigie.audit.verify import verify_trail
from vigie.secrets import ensure_secrets, load_secrets
from vigie.store.base import utcnow
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade

BATCH = 10_000


def main() -> None:
    n = int(os.environ.get("VIGIE_BENCH_PRUNE_EVENTS", "400000"))
    now = utcnow()
    old, recent = now - timedelta(days=2_000), now - timedelta(days=10)
    with tempfile.TemporaryDirectory(prefix="vigie-bench-prune-") as tmp:
        root = Path(tmp)
        ensure_secrets(root / "secrets")
        secrets = load_secrets(root / "secrets")
        db = root / "trail.db"
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        for start in range(0, n, BATCH):
            at = old if start < n // 2 else recent
            events = [_read(i, at) for i in range(start, min(n, start + BATCH))]
            with sessions.begin() as s:
                append_many(s, events)
        with sessions.begin() as s:
            take(s, signing_key=secrets.signing_key, actor="system:bench")
        size_before = _vacuumed(db)
        before = verify_trail(engine, public_key=secrets.audit_keys)
        print(f"verify, unpruned   {before.events:>10,} events {before.seconds:8.2f} s "
              f"{before.events / before.seconds:12,.0f} events/s")  # fmt: skip
        started = time.perf_counter()
        with sessions.begin() as s:
            done = prune(s, days=1_825, actor="system:bench", now=now)
        took = time.perf_counter() - started
        print(f"prune              {done.events:>10,} events {took:8.2f} s "
              f"{done.events / took:12,.0f} events/s")  # fmt: skip
        after = verify_trail(engine, public_key=secrets.audit_keys)
        assert after.pruned == done.events == n // 2
        print(f"verify, half pruned {after.events:>9,} events {after.seconds:8.2f} s "
              f"{after.events / after.seconds:12,.0f} events/s "
              f"({before.seconds / after.seconds:.2f}x the unpruned rate)")  # fmt: skip
        size_after = _vacuumed(db)
        print(f"database, VACUUMed  {size_before / 1e6:8.1f} MB before, "
              f"{size_after / 1e6:8.1f} MB after ({size_after / size_before:.2f}x)")  # fmt: skip
        engine.dispose()


def _read(i: int, at: datetime) -> NewEvent:
    return NewEvent(
        action=Action.SUBJECT_READ, actor="processor:cir-alpha/key:3",
        processor_id=1 + i % 3, key_id=3, origin="192.0.2.10",
        purpose="cir-language-training", subject_ids=[i],
        fields=["given_name", "family_name", "email", "phone"], at=at,
    )  # fmt: skip


def _vacuumed(db: Path) -> int:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    finally:
        conn.close()
    return db.stat().st_size


if __name__ == "__main__":
    main()
