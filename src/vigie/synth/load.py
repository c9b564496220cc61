"""``vigie synth``: build the synthetic CIR population and its subcontractors in one go.

1. Apply the shipped processors file (:data:`PROVIDERS`) with
   :func:`vigie.processors.apply.apply_file`: a language and a civic provider per region,
   one IT platform.
2. Draw the people in batches (:func:`vigie.synth.people.generate`) and bulk-load them with
   their superseded versions and their assignments: each person to every contract of a
   processor of their region, and to every contract of a processor without a region.
3. Plant canaries (:mod:`vigie.fingerprint.canaries`) region by region, so every scope
   holds the configured density; their ids are scattered among the real ones.

4. Declare the registry's population context from the shipped file
   (:data:`POPULATION`): what being in the CIR file reveals, and that refugees and asylum
   seekers are among its people (:mod:`vigie.registry.population`).

All of it is one transaction (nothing half-loaded is left behind) and three audit events
(``subject:synth``, counts only, and the seals of every bucket of the registry, the
assignments and the canary contacts it wrote (:mod:`vigie.audit.seals`); ``canary:plant``,
the canaries' ids, which bind the canary flag to the trail; and ``registry:population``).
The registry must be empty: synth builds a population, it does not add to one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.audit.seals import ASSIGNMENTS, CANARY_CONTACTS, REGISTRY, Sealing
from vigie.errors import InvalidInput
from vigie.fingerprint.canaries import (
    DEFAULT_DENSITY,
    canaries_needed,
    contact_rows,
    record_planted,
)
from vigie.fingerprint.models import CanaryContact
from vigie.processors.apply import apply_file
from vigie.processors.counts import recount_all
from vigie.processors.models import Assignment, Processor
from vigie.registry.models import VERSIONED_FIELDS, Subject, SubjectVersion
from vigie.registry.population import declare_population, load_population
from vigie.synth.bulk import BulkWriter, Rows, bulk_mode, iso_dates, timestamps
from vigie.synth.geography import REGION_SHARES
from vigie.synth.people import DATE_FIELDS, PeopleBatch, generate

PROVIDERS = Path(__file__).with_name("providers.yaml")
POPULATION = Path(__file__).with_name("population.yaml")
BATCH = 100_000
MAX_PEOPLE = 50_000_000  # ids, file numbers and phone numbers stay unique below this
CANARY_STREAM = 1 << 40  # ``start`` of the canaries' batch: its own random stream

Job = tuple[int, int, bool]
"""``(start, n, canary)``: one batch of people to draw."""
Progress = Callable[[int, int], None]
"""Called as ``progress(people_loaded, people_total)`` after each batch."""

_SUBJECT_COLS = ("id", "ref", *VERSIONED_FIELDS, "is_canary", "version", "valid_from")
_VERSION_COLS = ("subject_id", "version", *VERSIONED_FIELDS, "valid_from", "valid_to")
_ASSIGN_COLS = ("contract_id", "processor_id", "subject_id", "starts_on", "ends_on")


@dataclass(frozen=True)
class SynthReport:
    """What :func:`synthesize` built."""

    people: int
    canaries: int
    versions: int
    assignments: int
    processors: int
    seed: int
    seconds: float


def synthesize(
    engine: Engine,
    *,
    people: int,
    seed: int,
    progress: Progress | None = None,
    canary_density: float = DEFAULT_DENSITY,
    actor: str = "operator:cli",
    providers: Path = PROVIDERS,
    population: Path = POPULATION,
    batch: int = BATCH,
    resumable: bool = False,
    phase: Callable[[str], None] | None = None,
) -> SynthReport:
    """Build ``people`` synthetic people (plus canaries) and the CIR providers.

    ``batch``: people drawn (and, if ``resumable``, committed) at a time; the people drawn
    depend on it. ``resumable``: commit batch by batch and resume an interrupted build
    instead of one transaction (:mod:`vigie.synth.resumable`, for tens of millions of
    people); ``phase`` is then told each phase after the people are loaded.
    """
    if not 1 <= people <= MAX_PEOPLE:
        raise InvalidInput(f"--people must be between 1 and {MAX_PEOPLE:,}")
    if resumable:
        from vigie.synth.resumable import build

        return build(engine, people=people, seed=seed, progress=progress, phase=phase,
                     canary_density=canary_density, actor=actor, providers=providers,
                     population=population, batch=batch)  # fmt: skip
    started = time.perf_counter()
    context = load_population(population)
    with engine.connect() as conn, bulk_mode(conn), Session(bind=conn) as session, session.begin():
        existing = session.scalar(select(func.count()).select_from(Subject)) or 0
        if existing:
            raise InvalidInput(
                f"the registry already holds {existing} people; synth builds a population "
                "into an empty registry (start from a fresh `vigie init`)"
            )
        sealing = Sealing(session)
        for seal in (REGISTRY, ASSIGNMENTS, CANARY_CONTACTS):
            sealing.check_all(seal)  # empty, and no seal says otherwise
        apply_file(session, path=providers, actor=actor)
        session.flush()
        plan = CanaryPlan.make(people, seed, canary_density)
        counts = _load(session, plan, people=people, seed=seed, progress=progress, batch=batch)
        recount_all(session)  # the stored scope sizes (vigie.processors.counts)
        processors = session.scalar(select(func.count()).select_from(Processor)) or 0
        detail = {"people": people, "canaries": plan.count, "seed": seed, **counts}
        sealing.append(action=Action.SUBJECT_SYNTH, actor=actor, detail=detail)
        record_planted(session, subject_ids=plan.ids.tolist(), actor=actor)
        declare_population(session, context=context, actor=actor)
    return SynthReport(
        people=people,
        canaries=plan.count,
        versions=counts["versions"],
        assignments=counts["assignments"],
        processors=processors,
        seed=seed,
        seconds=time.perf_counter() - started,
    )


def _load(
    session: Session,
    plan: CanaryPlan,
    *,
    people: int,
    seed: int,
    progress: Progress | None,
    batch: int,
) -> dict[str, int]:
    """Draw and write every batch; a worker thread prepares batch k+1 while k is written.

    (SQLite, PostgreSQL's COPY and numpy release the GIL for most of their work.)
    """
    writer = BulkWriter(session.connection())
    jobs = plan.jobs(people, batch)
    total = people + plan.count

    def prepare(job: Job) -> list[Rows]:
        return job_rows(job, plan, seed=seed, sqlite=writer.sqlite)

    counts = {"versions": 0, "assignments": 0}
    tables = [Subject.__table__, SubjectVersion.__table__, Assignment.__table__,
              CanaryContact.__table__]  # fmt: skip
    # The scope index stays: assignments are inserted in its order (see _assign).
    keep = {"ix_assignments_scope"}
    with (
        writer.without_indexes(tables, keep=keep),  # type: ignore[arg-type]
        ThreadPoolExecutor(1) as worker,
    ):
        pending = worker.submit(prepare, jobs[0])
        done = 0
        for i, job in enumerate(jobs):
            ready = pending.result()
            if i + 1 < len(jobs):
                pending = worker.submit(prepare, jobs[i + 1])
            for rows in ready:
                writer.write(rows)
                if rows.table is SubjectVersion.__table__:
                    counts["versions"] += len(rows)
            done += job[1]
            if progress:
                progress(done, total)
        session.execute(text(WALK_CREATE))
        counts["assignments"] = _assign(session, sqlite=writer.sqlite)
        session.execute(text(WALK_DROP))
    if not writer.sqlite:  # COPY wrote explicit ids: move the id sequence past them
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('subjects', 'id'), "
                "(SELECT max(id) FROM subjects))"
            )
        )
    return counts


def job_rows(job: Job, plan: CanaryPlan, *, seed: int, sqlite: bool) -> list[Rows]:
    """The rows of one batch (drawn off the writing thread)."""
    start, n, canary = job
    if canary:
        people = generate(n, seed=seed, start=start, ids=plan.ids, regions=plan.regions)
    else:
        people = generate(n, seed=seed, start=start, ids=plan.real_ids[start : start + n])
    return rows_of(people, canary=canary, sqlite=sqlite)


# While assigning, a build-time index walks the people of each region in id order with
# what an assignment needs (the CIR signature): covering, so each processor's walk reads
# it alone, not every person's row — at 43 million people the table is some 15 GB and
# each region's two processors would otherwise each read nearly all of it.
WALK_CREATE = "CREATE INDEX IF NOT EXISTS synth_walk ON subjects (region, id, cir_signed_on)"
WALK_DROP = "DROP INDEX IF EXISTS synth_walk"


def _assign(session: Session, *, sqlite: bool) -> int:
    """Assign everyone inside the database, no row crossing into Python: each person to
    every contract of a processor of their region, and of a processor without a region,
    from their CIR signature (or the contract's start). The registry held nobody before
    the load, so everyone in it is new.

    Rows go in in the order of the scope index (processor, subject, contract), so that
    index grows by appending instead of being sorted and built afterwards.
    """
    total = 0
    for regional in (True, False):
        result = session.execute(text(assignment_insert(sqlite=sqlite, regional=regional)))
        total += int(result.rowcount)  # type: ignore[attr-defined]
    return total


def assignment_insert(*, sqlite: bool, regional: bool, one_processor: bool = False) -> str:
    """The ``INSERT … SELECT`` assigning people to the processors of their region
    (``regional``) or to those without one; ``one_processor``: only processor ``:pid``."""
    start = (
        "max(coalesce(s.cir_signed_on, c.valid_from), c.valid_from)"
        if sqlite
        else "greatest(s.cir_signed_on, c.valid_from)"
    )
    join = "JOIN subjects s ON s.region = p.region" if regional else "CROSS JOIN subjects s"
    where = [] if regional else ["p.region IS NULL"]
    if one_processor:
        where.append("p.id = :pid")
    return (
        "INSERT INTO assignments (contract_id, processor_id, subject_id, starts_on, ends_on) "
        f"SELECT c.id, p.id, s.id, {start}, NULL "
        f"FROM processors p JOIN contracts c ON c.processor_id = p.id {join} "
        f"{'WHERE ' + ' AND '.join(where) + ' ' if where else ''}ORDER BY p.id, s.id, c.id"
    )


@dataclass(frozen=True)
class CanaryPlan:
    """How many canaries per region, and which subject ids go to canaries."""

    count: int
    ids: Any  # int64 array, canary ids in planting order
    regions: Any  # object array of region codes, aligned with ``ids``
    real_ids: Any  # int64 array, ascending

    @classmethod
    def make(cls, people: int, seed: int, density: float) -> CanaryPlan:
        per_region: dict[str, int] = {}
        if density > 0:
            for code, share in REGION_SHARES.items():
                # Expected people in the region plus three standard deviations, so the
                # density holds in every region whatever the draw.
                expected = people * share + 3 * math.sqrt(people * share) + 1
                per_region[code] = canaries_needed(math.ceil(expected), density)
        count = sum(per_region.values())
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xCA]))
        ids = np.sort(rng.choice(people + count, size=count, replace=False)).astype(np.int64) + 1
        regions = np.array([c for c, k in per_region.items() for _ in range(k)], object)
        regions = regions[rng.permutation(count)] if count else regions
        # Every id not a canary's (a mask: ``setdiff1d`` sorts, a minute at 43 million).
        others = np.ones(people + count, bool)
        others[ids - 1] = False
        real = np.flatnonzero(others).astype(np.int64) + 1
        return cls(count, ids, regions, real)

    def jobs(self, people: int, batch: int) -> list[Job]:
        """The batches to draw, in order: the real people, then the canaries."""
        out = [(start, min(batch, people - start), False) for start in range(0, people, batch)]
        if self.count:
            out.append((CANARY_STREAM, self.count, True))
        return out


def _values(columns: dict[str, Any], names: tuple[str, ...]) -> list[list[Any]]:
    return [iso_dates(columns[k]) if k in DATE_FIELDS else columns[k].tolist() for k in names]


def rows_of(batch: PeopleBatch, *, canary: bool, sqlite: bool) -> list[Rows]:
    """Every row a batch adds: people, their earlier versions, canary contacts."""
    n = len(batch)
    prev = batch.previous
    subjects = [
        batch.ids.tolist(),
        *_values(batch.columns, ("ref", *VERSIONED_FIELDS)),
        [canary] * n,
        batch.version.tolist(),
        timestamps(batch.valid_from, sqlite=sqlite),
    ]
    versions = [
        prev.subject_ids.tolist(),
        prev.version.tolist(),
        *_values(prev.columns, VERSIONED_FIELDS),
        timestamps(prev.valid_from, sqlite=sqlite),
        timestamps(prev.valid_to, sqlite=sqlite),
    ]
    out = [
        Rows(Subject.__table__, _SUBJECT_COLS, subjects),  # type: ignore[arg-type]
        Rows(SubjectVersion.__table__, _VERSION_COLS, versions),  # type: ignore[arg-type]
    ]
    if canary:
        contacts = contact_rows(
            [*batch.ids.tolist(), *prev.subject_ids.tolist()],
            [*batch.columns["email"].tolist(), *prev.columns["email"].tolist()],
            [*batch.columns["phone"].tolist(), *prev.columns["phone"].tolist()],
        )
        values = [list(col) for col in zip(*contacts, strict=True)] if contacts else []
        out.append(Rows(CanaryContact.__table__, ("subject_id", "kind", "value"), values))  # type: ignore[arg-type]
    return out
