"""Audit trail: append, verify and proof figures on SQLite, next to the machine's ceiling.

Figures printed:

- ceiling: raw SHA-256 chaining of typical event bodies (``h = SHA-256(0x00||h||body)``),
  the most any verifier or appender of a hash chain can do on this machine in Python;
- plain insert: the same rows inserted without any hashing (what a plain, editable log
  such as pgAudit's costs), the peer baseline for appending;
- append: ``append_many`` in group-committed batches (operator events; disclosures with
  the served index), and one ``append`` per transaction;
- verify: ``verify_trail`` over the whole trail (events/s, ratio to the ceiling, and
  the time a 10-million-event trail takes at that rate, or measured with
  ``VIGIE_BENCH_AUDIT_EVENTS=10000000``), the part of it the evidence checks take
  (``Report.evidence_seconds``: reading the disclosure and other evidence events once,
  then comparing the served index, canaries and processors), and, with
  ``VIGIE_BENCH_AUDIT_MEMORY=1``, its peak memory (``tracemalloc``, in a second run that
  is not timed: tracing slows it several times);
- proofs: inclusion and consistency proof size and time on the built tree.

The trail is built with ``append_many`` (600 reads of one person and 400 denials per
1,000-event batch) and the automatic checkpointer (every 10,000 events), so building
it is itself a sustained-append measurement. ``VIGIE_BENCH_AUDIT_EVENTS`` sets its size
(default 2,100,000: the OFII dump's row count).
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import tempfile
import time
import tracemalloc
from pathlib import Path

from vigie.audit import canonical, merkle
from vigie.audit.actions import Action
from vigie.audit.checkpoints import Checkpointer, take
from vigie.audit.proofs import check_consistency, check_inclusion, consistency, inclusion
from vigie.audit.trail import NewEvent, append, append_many
from vigie.audit.verify import verify_trail
from vigie.secrets import ensure_secrets, load_secrets
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade

BATCH = 1000


def _read(i: int) -> NewEvent:
    return NewEvent(
        action=Action.SUBJECT_READ,
        actor="processor:cir-alpha/key:3",
        processor_id=1 + i % 3,
        key_id=3,
        origin="192.0.2.10",
        purpose="cir-language-training",
        subject_ids=[i],
        fields=["given_name", "family_name", "email", "phone"],
    )


def _denied(i: int) -> NewEvent:
    return NewEvent(
        action=Action.ACCESS_DENIED,
        actor="processor:cir-beta/key:9",
        processor_id=2,
        key_id=9,
        origin="198.51.100.4",
        outcome="denied",
        detail={"reason": "out_of_scope", "status": 404},
    )


def ceiling(n: int = 1_000_000) -> float:
    """Raw SHA-256 chaining rate (hashes per CPU-second) over a typical ~250-byte body.

    Measured in CPU time, the best of three, so that other work on the machine does not
    lower the ceiling itself.
    """
    body = canonical.body(
        123456, 1_767_000_000_000_000, "processor:cir-alpha/key:3", 1, 3, "192.0.2.10",
        "subject:read", "cir-language-training", canonical.encode_subjects([987654]),
        "email,family_name,given_name,phone", "ok", None,
    )  # fmt: skip
    sha = hashlib.sha256
    best = 0.0
    for _ in range(3):
        h = bytes(32)
        start = time.process_time()
        for _ in range(n):
            h = sha(b"\x00" + h + body).digest()
        best = max(best, n / (time.process_time() - start))
    return best


def plain_insert(path: Path, n: int = 200_000) -> float:
    """Rows/s inserting the same columns into a plain table, no hashing (a plain log)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE log (seq INTEGER PRIMARY KEY, at_us INTEGER, actor TEXT, processor_id "
        "INTEGER, key_id INTEGER, origin TEXT, action TEXT, purpose TEXT, subjects BLOB, "
        "fields TEXT, outcome TEXT, detail TEXT)"
    )
    start = time.perf_counter()
    seq = 0
    for _ in range(n // BATCH):
        rows = []
        for _ in range(BATCH):
            seq += 1
            rows.append((seq, time.time_ns() // 1000, "processor:cir-beta/key:9", 2, 9,
                         "198.51.100.4", "access:denied", None, b"", "", "denied",
                         '{"reason":"out_of_scope","status":404}'))  # fmt: skip
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO log VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def main() -> None:
    target = int(os.environ.get("VIGIE_BENCH_AUDIT_EVENTS", "2100000"))
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="vigie-bench-audit-") as tmp:
        root = Path(tmp)
        ensure_secrets(root / "secrets")
        secrets = load_secrets(root / "secrets")
        sha_rate = ceiling()
        print(f"ceiling: raw SHA-256 chaining        {sha_rate:12,.0f} hashes per CPU-second")
        plain = plain_insert(root / "plain.db")
        print(f"peer:    plain unchained insert      {plain:12,.0f} rows/s")

        engine = make_engine(f"sqlite:///{root / 'small.db'}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        for label, make, n in (("operator/denial events", _denied, 200_000),
                               ("disclosures (1 person, index)", _read, 200_000)):  # fmt: skip
            batches = [[make(i * BATCH + j) for j in range(BATCH)] for i in range(n // BATCH)]
            start, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                with sessions.begin() as s:
                    append_many(s, batch)
            rate = n / (time.perf_counter() - start)
            cpu_rate = n / (time.process_time() - cpu)
            print(f"append:  {label:30s} {rate:10,.0f} events/s (batches of {BATCH}, "
                  f"{rate / plain:.2f}x plain insert; {cpu_rate:,.0f} per CPU-second)")  # fmt: skip
        single = 3000
        start = time.perf_counter()
        for i in range(single):
            with sessions.begin() as s:
                append(s, action=Action.SUBJECT_READ, actor="processor:cir-alpha/key:3",
                       processor_id=1, subject_ids=[i], fields=["email"])  # fmt: skip
        rate = single / (time.perf_counter() - start)
        print(f"append:  one event per transaction   {rate:10,.0f} events/s (one commit each)")
        engine.dispose()

        engine = make_engine(f"sqlite:///{root / 'big.db'}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        auto = Checkpointer(sessions=sessions, signing_key=secrets.signing_key, every_events=10_000)
        start, cpu = time.perf_counter(), time.process_time()
        n = 0
        while n < target:
            batch = [_read(n + j) if j % 5 < 3 else _denied(n + j) for j in range(BATCH)]
            with sessions.begin() as s:
                n = append_many(s, batch)[-1]
            auto.maybe_checkpoint()
        with sessions.begin() as s:
            take(s, signing_key=secrets.signing_key, actor="system:bench")
        build, build_cpu = time.perf_counter() - start, time.process_time() - cpu
        print(f"build:   {n:,} events with checkpoints every 10,000: {build:.1f} s, "
              f"{n / build:,.0f} events/s sustained "
              f"({n / build_cpu:,.0f} per CPU-second)")  # fmt: skip

        sha_rate = ceiling()
        cpu = time.process_time()
        report = verify_trail(engine, public_key=secrets.verify_key)
        cpu = time.process_time() - cpu
        rate = report.events / report.seconds
        print(f"verify:  {report.events:,} events, {report.checkpoints} checkpoints in "
              f"{report.seconds:.1f} s: {rate:,.0f} events/s wall; per CPU-second "
              f"{report.events / cpu:,.0f} = {report.events / cpu / sha_rate:.0%} of the "
              f"ceiling ({sha_rate:,.0f}/CPU-s measured just before); CPU {cpu:.1f} s")  # fmt: skip
        print(f"verify:  of which the evidence (served index: {report.index_rows:,} rows, "
              f"canaries, processors): {report.evidence_seconds:.1f} s; the chain, Merkle tree "
              f"and checkpoints {report.seconds - report.evidence_seconds:.1f} s")  # fmt: skip
        if os.environ.get("VIGIE_BENCH_AUDIT_MEMORY") == "1":
            tracemalloc.start()
            verify_trail(engine, public_key=secrets.verify_key)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(f"verify:  peak memory (tracemalloc, a second run) {peak / 1e6:.1f} MB")
        if report.events < 10_000_000:
            print(f"verify:  10,000,000 events at that rate: {10_000_000 / rate:.0f} s wall, "
                  f"{10_000_000 * cpu / report.events:.0f} s CPU (extrapolated)")  # fmt: skip

        with sessions() as s:
            times, sizes = [], []
            for seq in rng.sample(range(1, report.events), 5):
                t0 = time.perf_counter()
                proof = inclusion(s, seq=seq)
                times.append(time.perf_counter() - t0)
                sizes.append(len(proof.path))
            t0 = time.perf_counter()
            check_inclusion(proof, public_key=secrets.verify_key)
            check = time.perf_counter() - t0
            size = proof.checkpoint.size
            print(f"prove:   inclusion in a {size:,}-event tree: {max(sizes)} hashes "
                  f"({32 * max(sizes)} bytes), {min(times):.2f}-{max(times):.2f} s to build, "
                  f"{check * 1000:.2f} ms to check")  # fmt: skip
            t0 = time.perf_counter()
            cons = consistency(s, old_id=1, new_id=proof.checkpoint.id)
            built = time.perf_counter() - t0
            check_consistency(cons, public_key=secrets.verify_key)
            print(f"prove:   consistency {cons.old.size:,} -> {cons.new.size:,}: {len(cons.path)} "
                  f"hashes ({32 * len(cons.path)} bytes), {built:.2f} s to build")  # fmt: skip
        assert merkle.root([]) == merkle.EMPTY_ROOT
        engine.dispose()


if __name__ == "__main__":
    main()
