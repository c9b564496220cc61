"""Each provider's standing on each requirement: the latest version applied by a moment,
judged on the facts of that moment.

A requirement not met before its deadline is a *warning*; after it, *overdue*, and its
consequence applies (:mod:`vigie.requirements.enforce`). Before a new version's deadline
the new version is the one judged: a provider that met version 1 but not yet version 2
is warned, not sanctioned.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.processors.directory import get_processor
from vigie.processors.models import Processor
from vigie.requirements.checks import judge
from vigie.requirements.facts import gather
from vigie.requirements.models import RequirementVersion


@dataclass(frozen=True)
class Standing:
    """One processor against one requirement version."""

    processor: str
    processor_id: int
    requirement: str
    version: int
    kind: str
    check: str
    text_en: str
    text_fr: str
    clauses: tuple[str, ...]
    state: str  # met | unmet | missing
    phase: str  # met | warning | overdue
    deadline: str
    consequence: str
    reasons: tuple[str, ...]
    evidence: tuple[int, ...]  # audit seqs the verdict rests on
    requirement_seq: int  # the version's audit event

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("clauses", "reasons", "evidence"):
            data[key] = list(data[key])
        return data


def in_force(session: Session, *, at: datetime) -> list[RequirementVersion]:
    """The latest version of each requirement applied by ``at``, by id."""
    latest: dict[str, RequirementVersion] = {}
    rows = session.scalars(
        select(RequirementVersion)
        .where(RequirementVersion.applied_at <= at)
        .order_by(RequirementVersion.version)
    )
    for row in rows:
        latest[row.requirement] = row
    return [latest[k] for k in sorted(latest)]


def standing_of(
    session: Session, *, processor: Processor, at: datetime,
    requirements: list[RequirementVersion] | None = None,
) -> list[Standing]:  # fmt: skip
    """``processor``'s standing on every requirement in force at ``at``."""
    facts = gather(session, processor=processor, at=at)
    out = []
    for req in in_force(session, at=at) if requirements is None else requirements:
        verdict = judge(
            facts, kind=req.kind, check=req.check, requirement=req.requirement,
            version=req.version, parameters=req.parameters,
        )  # fmt: skip
        phase = "met" if verdict.met else "overdue" if at.date() >= req.deadline else "warning"
        out.append(
            Standing(
                processor=processor.name,
                processor_id=processor.id,
                requirement=req.requirement,
                version=req.version,
                kind=req.kind,
                check=req.check,
                text_en=req.text_en,
                text_fr=req.text_fr,
                clauses=tuple(req.clauses),
                state=verdict.state,
                phase=phase,
                deadline=req.deadline.isoformat(),
                consequence=req.consequence,
                reasons=verdict.reasons,
                evidence=verdict.evidence,
                requirement_seq=req.audit_seq,
            )
        )
    return out


def standings(session: Session, *, at: datetime, processor: str | None = None) -> list[Standing]:
    """The standing of one processor (by name) or of every one, on every requirement."""
    if processor is not None:
        targets = [get_processor(session, name=processor)]
    else:
        targets = list(session.scalars(select(Processor).order_by(Processor.name)))
    requirements = in_force(session, at=at)
    out: list[Standing] = []
    for proc in targets:
        out.extend(standing_of(session, processor=proc, at=at, requirements=requirements))
    return out
