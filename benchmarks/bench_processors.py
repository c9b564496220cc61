"""Processors' hot paths at OFII scale: key check, scope paging, projection.

Builds a SQLite registry of ``BENCH_PEOPLE`` people (default 2.1 million, the size of
the OFII dump) with a regional language-training assignment each and the IT platform's
assignment for everyone (2 × people assignments), then measures:

1. ``authenticate`` (one indexed lookup by prefix + a SHA-256 in constant time);
2. ``scope_page`` (keyset pagination on the covering index ``ix_assignments_scope``)
   at the start, the middle and the end of the platform's 2.1-million-person scope,
   against the naive peer, ``LIMIT/OFFSET`` pagination over the same rows;
3. ``in_scope`` for one person;
4. the policy projection (union of contracts, masks, pseudonyms) of a 100-person page;
5. ``summarise``, behind ``vigie processors list`` (scope size of every processor),
   from the stored counts, against its peer: counting every scope on each call (what
   ``summarise`` did before the counts were stored);
6. ``recount`` of every processor: what keeping the counts costs (each write path
   recounts the processor it changed, in its transaction).

Usage: ``python -m benchmarks processors`` (``BENCH_PEOPLE=200000`` for a quick run).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select, text

from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.policy.view import ContractView, union
from vigie.processors.apply import apply_file
from vigie.processors.counts import recount, recount_all
from vigie.processors.directory import summarise
from vigie.processors.keys import authenticate, issue_key
from vigie.processors.models import Contract, Processor
from vigie.processors.scope import in_scope, scope_page
from vigie.secrets import ensure_secrets, load_secrets
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade

PROVIDERS = Path(__file__).resolve().parents[1] / "src" / "vigie" / "synth" / "providers.yaml"
TODAY = date(2026, 3, 1)
ACTOR = "operator:bench"
REGIONS = ("11", "84", "75", "76", "44", "32", "93", "28", "52", "53", "24", "27", "94")


def _timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _summary(name: str, samples: list[float], unit: int = 1) -> float:
    samples = sorted(samples)
    p50 = statistics.median(samples) * 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
    rate = unit / statistics.mean(samples)
    print(f"  {name:<44} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   mean {rate:10,.0f}/s")
    return p50


def _fill(path: Path, people: int, language: dict[str, int], platform: int) -> float:
    """Insert people and assignments with plain sqlite3 (fast); return seconds taken."""
    start = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    regions = [r for r in REGIONS if r in language] or list(language)
    subject_sql = (
        "INSERT INTO subjects (id, ref, given_name, family_name, birth_date, sex, birth_country,"
        " nationality, preferred_language, email, phone, address_line, postal_code, city, region,"
        " entry_date, residence_reason, residence_status, cir_signed_on, course_hours,"
        " course_level, is_canary, version, valid_from) VALUES"
        " (?, ?, ?, ?, ?, 'F', 'SEN', 'SEN', 'fr', ?, ?, ?, ?, 'Lyon', ?, '2023-01-01', 'family',"
        " 'temporary-card', '2023-02-01', 200, 'A1', 0, 1, '2024-01-01 00:00:00.000000')"
    )
    assign_sql = (
        "INSERT INTO assignments (contract_id, processor_id, subject_id, starts_on, ends_on)"
        " VALUES (?, ?, ?, '2025-01-01', NULL)"
    )
    batch = 50_000
    for lo in range(1, people + 1, batch):
        ids = range(lo, min(people + 1, lo + batch))
        conn.executemany(
            subject_sql,
            (
                (
                    i,
                    f"OFII-{i:09d}",
                    f"Given{i % 5000}",
                    f"Family{i % 20000}",
                    f"{1960 + i % 45}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    f"person{i}@mail.example",
                    f"+336{i:08d}",
                    f"{i % 200} rue de l'Exemple",
                    f"{69000 + i % 999:05d}",
                    regions[i % len(regions)],
                )
                for i in ids
            ),
        )
        rows = []
        for i in ids:
            region = regions[i % len(regions)]
            rows.append((language[region], language[region + ":p"], i))
            rows.append((platform, language["platform:p"], i))
        conn.executemany(assign_sql, rows)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    people = int(os.environ.get("BENCH_PEOPLE", "2100000"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        ensure_secrets(Path(tmp) / "secrets")
        secrets = load_secrets(Path(tmp) / "secrets")
        with sessions.begin() as s:
            apply_file(s, path=PROVIDERS, actor=ACTOR)
            contracts = {
                (p.region or "platform", p.id, c.id, c.purpose)
                for c, p in s.execute(
                    select(Contract, Processor).join(
                        Processor, Processor.id == Contract.processor_id
                    )
                )
            }
            language: dict[str, int] = {}
            platform = 0
            for region, pid, cid, purpose in contracts:
                if purpose == "language-training":
                    language[region], language[region + ":p"] = cid, pid
                elif region == "platform":
                    platform, language["platform:p"] = cid, pid
            platform_pid = language["platform:p"]
            tokens = [issue_key(s, processor="platform-cir", actor=ACTOR).token for _ in range(200)]
        engine.dispose()
        took = _fill(path, people, language, platform)
        print(f"registry: {people:,} people, {2 * people:,} assignments, built in {took:.1f} s")
        engine = make_engine(f"sqlite:///{path}")
        sessions = make_session_factory(engine)
        now = datetime(2026, 3, 1, 12, tzinfo=UTC)
        with sessions() as s:
            print("authenticate (200 keys of one processor):")
            i = iter(range(10**9))
            _summary(
                "authenticate",
                _timed(
                    lambda: authenticate(
                        s, token=tokens[next(i) % 200], client_ip="192.0.2.1", now=now
                    ),
                    3000,
                ),
            )
            print(f"scope_page, 100 people, platform scope of {people:,}:")
            keyset: dict[str, float] = {}
            offset: dict[str, float] = {}
            offset_sql = text(
                "SELECT s.* FROM assignments a JOIN subjects s ON s.id = a.subject_id "
                "WHERE a.processor_id = :p AND a.starts_on <= :d AND (a.ends_on IS NULL "
                "OR a.ends_on >= :d) ORDER BY a.subject_id LIMIT 100 OFFSET :o"
            )
            for label, after in (("start", 0), ("middle", people // 2), ("end", people - 150)):
                keyset[label] = _summary(
                    f"keyset page at the {label}",
                    _timed(lambda a=after: scope_page(s, processor_id=platform_pid,
                                                      after_subject_id=a, limit=100, on=TODAY),
                           30),
                )  # fmt: skip
                offset[label] = _summary(
                    f"peer: LIMIT/OFFSET page at the {label}",
                    _timed(lambda a=after: s.execute(offset_sql, {"p": platform_pid,
                                                                  "d": TODAY, "o": a}).all(),
                           5 if after else 30),
                )  # fmt: skip
            for label in keyset:
                print(
                    f"  ratio offset/keyset at the {label}: {offset[label] / keyset[label]:,.1f}x"
                )
        with sessions.begin() as s:
            print("keeping the counts (after the bulk fill, which bypassed them):")
            _summary("recount every processor", _timed(lambda: recount_all(s, on=TODAY), 1))
            _summary(
                f"recount the platform ({people:,} people)",
                _timed(lambda: recount(s, processor_id=platform_pid, on=TODAY), 3),
            )
        with sessions() as s:
            print("processors list (scope size of every processor):")
            _summary(
                "summarise (stored counts)", _timed(lambda: summarise(s, on=TODAY, now=now), 30)
            )
            count_all = text(
                "SELECT a.processor_id, count(DISTINCT a.subject_id) FROM assignments a "
                "JOIN contracts c ON c.id = a.contract_id WHERE c.valid_from <= :d "
                "AND (c.valid_to IS NULL OR c.valid_to >= :d) AND a.starts_on <= :d "
                "AND (a.ends_on IS NULL OR a.ends_on >= :d) GROUP BY a.processor_id"
            )
            _summary(
                "peer: count every scope on each call",
                _timed(lambda: s.execute(count_all, {"d": TODAY}).all(), 3),
            )
            print("in_scope (one person):")
            j = iter(range(10**9))
            _summary(
                "in_scope",
                _timed(lambda: in_scope(s, processor_id=platform_pid,
                                        subject_id=1 + (next(j) * 7919) % people, on=TODAY),
                       3000),
            )  # fmt: skip
            page = scope_page(s, processor_id=platform_pid, after_subject_id=0, limit=100, on=TODAY)
            views = {c.id: ContractView.of(c) for c in s.scalars(select(Contract))}
            pseudo = Pseudonymiser(secrets, platform_pid)
            print("projection (union + masks + pseudonyms), 100-person page:")

            def project() -> None:
                for p in page:
                    union(views[c] for c in p.contract_ids).project(
                        p.row, pseudonym=pseudo.encode(p.subject_id)
                    )

            _summary("project a page", _timed(project, 300), unit=100)
        engine.dispose()


if __name__ == "__main__":
    main()
