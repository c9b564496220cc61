"""Synthetic population: fresh ``vigie init`` + ``synthesize`` of 2.1 million people on SQLite.

Target (issue 2): generation plus loading of 2.1 million people into SQLite in at most 60 s.

Measured:

1. **Vigie**: a fresh instance (``initialise``), then ``synthesize(people=BENCH_PEOPLE)``
   with canaries — wall time, process CPU time (all threads), people/s and rows/s (people,
   earlier versions, assignments, canary contacts).
2. **Peer: Faker per row** (what the issue says will not get there): the same fields drawn
   one person at a time with ``Faker("fr_FR")``, generation only (no database), timed on
   ``BENCH_SAMPLE`` people and extrapolated.
3. **Peer: SQLAlchemy ORM**: Vigie's own generated people inserted through the ORM
   (``session.add_all``, one transaction) on a fresh SQLite instance, timed on
   ``BENCH_SAMPLE`` people (with their three assignments) and extrapolated.

Usage: ``python -m benchmarks synth`` (``BENCH_PEOPLE``, default 2,100,000;
``BENCH_SAMPLE``, default 20,000; ``BENCH_DIR``, default the temp directory).
``BENCH_SYNTH_CPU=1``: only the resumable build, with the CPU time at each of its
phases and the people per CPU-second (the figure that a shared machine's load changes
least). ``BENCH_SYNTH_RESUMABLE=1``: instead, the one-transaction and the resumable build
(:mod:`vigie.synth.resumable`) of the same people, alternated, twice each.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.instance import initialise
from vigie.processors.apply import apply_file
from vigie.processors.models import Assignment, Contract, Processor
from vigie.registry.models import Subject
from vigie.settings import Settings
from vigie.store.engine import make_engine
from vigie.synth.load import PROVIDERS, synthesize
from vigie.synth.people import generate

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "2100000"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "20000"))
BASE = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
TARGET_SECONDS = 60.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fresh(name: str) -> tuple[Settings, object]:
    root = BASE / f"vigie-bench-synth-{name}"
    shutil.rmtree(root, ignore_errors=True)
    settings = Settings(data_dir=root)
    return settings, make_engine(settings.resolved_database_url)


def vigie(*, resumable: bool = False) -> tuple[float, int]:
    settings, engine = _fresh("vigie")
    wall, cpu, main_cpu = time.perf_counter(), _cpu(), time.thread_time()
    initialise(settings, engine)  # type: ignore[arg-type]
    init_s = time.perf_counter() - wall
    started = _cpu()

    def phase(name: str) -> None:  # the resumable build's phases, with the CPU used so far
        print(f"  {name} after {_cpu() - started:.1f} CPU-s", flush=True)

    report = synthesize(engine, people=PEOPLE, seed=2026, resumable=resumable,  # type: ignore[arg-type]
                        phase=phase if resumable else None)  # fmt: skip
    wall, cpu, main_cpu = time.perf_counter() - wall, _cpu() - cpu, time.thread_time() - main_cpu
    rows = PEOPLE + report.canaries + report.versions + report.assignments
    size = (settings.data_dir / "vigie.db").stat().st_size
    kind = "resumable synth" if resumable else "synth"
    print(f"vigie: init + {kind} of {PEOPLE:,} people (+{report.canaries:,} canaries, "
          f"{report.versions:,} earlier versions, {report.assignments:,} assignments)")  # fmt: skip
    print(f"  wall {wall:.1f} s (init {init_s:.1f} s); CPU: process {cpu:.1f} s, "
          f"writer thread {main_cpu:.1f} s; database {size / 2**20:.0f} MiB")  # fmt: skip
    print(f"  {PEOPLE / wall:,.0f} people/s, {rows / wall:,.0f} rows/s; "
          f"{PEOPLE / cpu:,.0f} people per CPU-second")  # fmt: skip
    verdict = "meets" if wall <= TARGET_SECONDS else "misses"
    print(
        f"  target {TARGET_SECONDS:.0f} s: {verdict} it ({wall / TARGET_SECONDS:.2f}x the budget)"
    )
    engine.dispose()  # type: ignore[attr-defined]
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    return wall, rows


def faker_per_row() -> float:
    from faker import Faker  # dev dependency, the peer

    fake = Faker("fr_FR")
    Faker.seed(1)
    start = time.perf_counter()
    for _ in range(SAMPLE):
        {
            "given_name": fake.first_name(),
            "family_name": fake.last_name(),
            "birth_date": fake.date_of_birth(minimum_age=18, maximum_age=70),
            "sex": fake.random_element("FM"),
            "nationality": fake.country_code(representation="alpha-3"),
            "preferred_language": fake.language_code(),
            "email": fake.email(domain="mail.example"),
            "phone": fake.phone_number(),
            "address_line": fake.street_address(),
            "postal_code": fake.postcode(),
            "city": fake.city(),
            "entry_date": fake.date_between(date(2019, 1, 1), date(2025, 10, 31)),
            "cir_signed_on": fake.date_between(date(2019, 6, 1), date(2025, 12, 31)),
            "course_hours": fake.random_element((100, 200, 400, 600)),
        }
    per_person = (time.perf_counter() - start) / SAMPLE
    return per_person * PEOPLE


def orm_per_row() -> float:
    settings, engine = _fresh("orm")
    initialise(settings, engine)  # type: ignore[arg-type]
    with Session(engine) as session, session.begin():  # type: ignore[call-overload]
        apply_file(session, path=PROVIDERS, actor="operator:bench")
    batch = generate(SAMPLE, seed=1)
    now = datetime.now(UTC)
    start = time.perf_counter()
    with Session(engine) as session, session.begin():  # type: ignore[call-overload]
        routes = session.execute(
            select(Contract.id, Processor.id, Processor.region).join(Processor)
        ).all()
        people = [Subject(id=int(batch.ids[i]), valid_from=now, **batch.record(i))
                  for i in range(SAMPLE)]  # fmt: skip
        session.add_all(people)
        session.flush()
        session.add_all(
            Assignment(contract_id=c, processor_id=p, subject_id=s.id,
                       starts_on=s.cir_signed_on or date(2024, 1, 1), ends_on=None)
            for s in people for c, p, region in routes if region in (None, s.region)
        )  # fmt: skip
    per_person = (time.perf_counter() - start) / SAMPLE
    engine.dispose()  # type: ignore[attr-defined]
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    return per_person * PEOPLE


def main() -> None:
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    if os.environ.get("BENCH_SYNTH_CPU") == "1":  # the resumable build alone, its phases
        vigie(resumable=True)
        return
    if os.environ.get("BENCH_SYNTH_RESUMABLE") == "1":  # both builds, twice, alternated
        for resumable in (False, True, False, True):
            vigie(resumable=resumable)
        return
    wall, _ = vigie()
    faker = faker_per_row()
    print(f"peer Faker per row (generation only, {SAMPLE:,} timed, extrapolated): "
          f"{faker:.0f} s for {PEOPLE:,} -> Vigie is {faker / wall:.1f}x faster "
          "end to end")  # fmt: skip
    orm = orm_per_row()
    print(f"peer SQLAlchemy ORM insert ({SAMPLE:,} people + assignments timed, extrapolated): "
          f"{orm:.0f} s for {PEOPLE:,} -> Vigie is {orm / wall:.1f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()
