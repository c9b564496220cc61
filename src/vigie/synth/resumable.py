"""A synthetic build committed batch by batch, that resumes where it was stopped.

``synthesize(..., resumable=True)`` builds the same registry as the one-transaction
build of :mod:`vigie.synth.load` (same rows, same ids, same order), for registries of
tens of millions of people where one transaction is too long to lose: a build killed
after an hour keeps what it committed, and the same call resumes it.

Phases, each committed as it ends:

1. the CIR providers applied and the secondary indexes dropped (one transaction);
2. the real people, one transaction per batch (their superseded versions with them),
   then the canaries and their contacts (one transaction);
3. the assignments, one transaction per processor (the build-time index they walk built
   first, dropped after them);
4. the secondary indexes, one transaction each;
5. the scope counts, the seals of everything written, and the ``subject:synth``,
   ``canary:plant`` and ``registry:population`` events: one transaction.

Only the last one makes the build complete: the ``subject:synth`` event is what says so,
and until it exists no seal covers the people written, so a sealed writer (an import)
refuses to touch the registry. Resuming reads where the build stands from the database
itself — how many people, whether the canaries are in, which processors have their
assignments — and checks that it is the same build (the last person written is the one
this seed, size and batch draw there); anything else is refused, never adopted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, Index, func, inspect, select, text
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.audit.models import EVENTS
from vigie.audit.seals import ASSIGNMENTS, CANARY_CONTACTS, REGISTRY, Sealing
from vigie.errors import InvalidInput
from vigie.fingerprint.canaries import record_planted
from vigie.fingerprint.models import CanaryContact
from vigie.processors.apply import apply_file
from vigie.processors.counts import recount_all
from vigie.processors.models import Assignment, Processor
from vigie.registry.models import Subject, SubjectVersion
from vigie.registry.population import declare_population, load_population
from vigie.synth.bulk import BulkWriter, Rows, bulk_mode
from vigie.synth.load import (
    WALK_CREATE,
    WALK_DROP,
    CanaryPlan,
    Job,
    Progress,
    SynthReport,
    assignment_insert,
    job_rows,
)
from vigie.synth.people import generate

_TABLES = (Subject.__table__, SubjectVersion.__table__, Assignment.__table__,
           CanaryContact.__table__)  # fmt: skip
_KEEP = "ix_assignments_scope"  # assignments go in in its order (vigie.synth.load._assign)


def _indexes() -> list[Index]:
    return [ix for t in _TABLES for ix in t.indexes if ix.name != _KEEP]  # type: ignore[attr-defined]


def build(
    engine: Engine,
    *,
    people: int,
    seed: int,
    progress: Progress | None,
    phase: Callable[[str], None] | None,
    canary_density: float,
    actor: str,
    providers: Path,
    population: Path,
    batch: int,
) -> SynthReport:
    """Build, or resume building, ``people`` synthetic people (see the module)."""
    started = time.perf_counter()
    context = load_population(population)
    plan = CanaryPlan.make(people, seed, canary_density)
    jobs = plan.jobs(people, batch)
    say = phase or (lambda _name: None)
    with engine.connect() as conn, bulk_mode(conn, spill=True), Session(bind=conn) as session:
        done = _begin(session, plan, jobs, seed=seed, people=people, providers=providers,
                      actor=actor)  # fmt: skip
        versions = _load(session, plan, jobs, done, seed=seed, progress=progress)
        say("assigning")
        assignments = _assign(session, sqlite=conn.dialect.name == "sqlite")
        say("indexing")
        for ix in _indexes():
            ix.create(session.connection(), checkfirst=True)
            session.commit()
        say("sealing")
        if conn.dialect.name != "sqlite":  # COPY wrote explicit ids: move the sequence on
            session.execute(text("SELECT setval(pg_get_serial_sequence('subjects', 'id'), "
                                 "(SELECT max(id) FROM subjects))"))  # fmt: skip
        sealing = Sealing(session)
        for seal in (REGISTRY, ASSIGNMENTS, CANARY_CONTACTS):
            sealing.check_all(seal, adopt=True)  # what this build wrote, never sealed yet
        recount_all(session)
        processors = session.scalar(select(func.count()).select_from(Processor)) or 0
        counts = {"versions": versions, "assignments": assignments}
        detail = {"people": people, "canaries": plan.count, "seed": seed, **counts}
        sealing.append(action=Action.SUBJECT_SYNTH, actor=actor, detail=detail)
        record_planted(session, subject_ids=plan.ids.tolist(), actor=actor)
        declare_population(session, context=context, actor=actor)
        session.commit()
    return SynthReport(people=people, canaries=plan.count, versions=versions,
                       assignments=assignments, processors=processors, seed=seed,
                       seconds=time.perf_counter() - started)  # fmt: skip


def _begin(
    session: Session,
    plan: CanaryPlan,
    jobs: list[Job],
    *,
    seed: int,
    people: int,
    providers: Path,
    actor: str,
) -> int:
    """Start the build (phase 1) or find where it stopped: the number of batches done."""
    synthesized = session.scalar(
        select(func.count()).select_from(EVENTS).where(EVENTS.c.action == Action.SUBJECT_SYNTH)
    )
    existing = session.scalar(select(func.count()).select_from(Subject)) or 0
    if synthesized:
        raise InvalidInput(
            f"the registry already holds {existing} people from a finished synth; synth "
            "builds a population into an empty registry (start from a fresh `vigie init`)"
        )
    # Phase 1 drops the secondary indexes: while they are all there, nothing was started
    # (processors applied by hand beforehand included).
    present = {ix["name"] for ix in inspect(session.connection()).get_indexes("subjects")}
    started = not present & {str(ix.name) for ix in Subject.__table__.indexes}  # type: ignore[attr-defined]
    if not existing and not started:
        sealing = Sealing(session)
        for seal in (REGISTRY, ASSIGNMENTS, CANARY_CONTACTS):
            sealing.check_all(seal)  # empty, and no seal says otherwise
        apply_file(session, path=providers, actor=actor)
        for ix in _indexes():
            ix.drop(session.connection())
        session.commit()
        return 0
    return _resume_point(session, plan, jobs, seed=seed, people=people, existing=existing)


def _resume_point(
    session: Session, plan: CanaryPlan, jobs: list[Job], *, seed: int, people: int, existing: int
) -> int:
    """How many of ``jobs`` an interrupted build of the same population committed."""
    refuse = InvalidInput(
        f"the registry holds {existing} people but not from an interrupted synth of "
        f"{people:,} people with this seed (and batch size): start from a fresh `vigie init`"
    )
    done_people, done = 0, 0
    for _start, n, _canary in jobs:
        if done_people + n > existing:
            break
        done_people += n
        done += 1
    if done_people != existing:
        raise refuse
    if done and not _same_ids(session, plan, jobs[done - 1], people=people, written=existing):
        raise refuse
    if done:  # the last person written must be the one this build draws there
        start, n, canary = jobs[done - 1]
        ids = plan.ids if canary else plan.real_ids[start : start + n]
        drawn = generate(n, seed=seed, start=start, ids=ids,
                         regions=plan.regions if canary else None)  # fmt: skip
        row = session.execute(
            select(Subject.ref, Subject.family_name, Subject.email, Subject.is_canary).where(
                Subject.id == int(ids[-1])
            )
        ).one_or_none()
        last = (drawn.columns["ref"][-1], drawn.columns["family_name"][-1],
                drawn.columns["email"][-1], canary)  # fmt: skip
        if row is None or tuple(row) != last:
            raise refuse
    return done


def _load(
    session: Session,
    plan: CanaryPlan,
    jobs: list[Job],
    done: int,
    *,
    seed: int,
    progress: Progress | None,
) -> int:
    """Write the batches from ``done`` on, one transaction each; the superseded versions
    in the registry once they are all in."""
    writer = BulkWriter(session.connection())
    total = sum(n for _s, n, _c in jobs)
    written = sum(n for _s, n, _c in jobs[:done])
    if progress:
        progress(written, total)
    todo = jobs[done:]

    def prepare(job: Job) -> list[Rows]:
        return job_rows(job, plan, seed=seed, sqlite=writer.sqlite)

    with ThreadPoolExecutor(1) as worker:
        pending = worker.submit(prepare, todo[0]) if todo else None
        for i, job in enumerate(todo):
            assert pending is not None
            ready = pending.result()
            if i + 1 < len(todo):
                pending = worker.submit(prepare, todo[i + 1])
            session.connection()  # the batch's transaction (BEGIN), which the writer joins
            for rows in ready:
                writer.write(rows)
            session.commit()
            written += job[1]
            if progress:
                progress(written, total)
    return session.scalar(select(func.count()).select_from(SubjectVersion)) or 0


def _assign(session: Session, *, sqlite: bool) -> int:
    """Assign everyone, one processor per transaction, in the order of the one-transaction
    build (the regional processors, then the others, by id); skip processors done."""
    session.execute(text(WALK_CREATE))
    session.commit()
    procs = session.execute(select(Processor.id, Processor.region).order_by(Processor.id)).all()
    for regional in (True, False):
        statement = text(assignment_insert(sqlite=sqlite, regional=regional, one_processor=True))
        for pid, region in procs:
            if (region is not None) != regional:
                continue
            has = session.scalar(
                select(Assignment.id).where(Assignment.processor_id == pid).limit(1)
            )
            if has is None:
                session.execute(statement, {"pid": pid})
                session.commit()
    session.execute(text(WALK_DROP))
    session.commit()
    return session.scalar(select(func.count()).select_from(Assignment)) or 0


def _same_ids(session: Session, plan: CanaryPlan, last: Job, *, people: int, written: int) -> bool:
    """Whether the ids written are the ones this build gives its first ``written`` people.

    Before the canaries: the same count, the same highest id, and none of the canaries'
    ids below it (ids are unique, so that is the same set). After: every id up to the
    highest, the canaries flagged.
    """
    canaries_in = last[2]
    real = written - (plan.count if canaries_in else 0)
    top = people + plan.count if canaries_in else int(plan.real_ids[real - 1])
    if session.scalar(select(func.max(Subject.id))) != top:
        return False
    if canaries_in:
        flagged = select(func.count()).select_from(Subject).where(Subject.is_canary)
        return session.scalar(flagged) == plan.count
    below = plan.ids[plan.ids < top].tolist()
    for i in range(0, len(below), 10_000):
        chunk = below[i : i + 10_000]
        if session.scalar(select(func.count()).where(Subject.id.in_(chunk))):
            return False
    return True
