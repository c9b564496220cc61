"""What is in the registry, in a few numbers: for ``vigie synth`` and ``vigie demo``.

Counts of people by nationality and by preferred language (canaries are counted apart,
never mixed into the people), and each processor with the size of its current scope
(distinct people assigned, canaries included since they are in the scope too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigie.processors.models import Assignment, Processor
from vigie.registry.models import Subject, SubjectVersion


@dataclass(frozen=True)
class ProcessorScope:
    """A processor and how many people it may read."""

    name: str
    legal_name: str
    region: str | None
    scope: int


@dataclass(frozen=True)
class PopulationSummary:
    """People, canaries, the nationality and language mix, and the processors' scopes."""

    people: int
    canaries: int
    versions: int
    by_nationality: list[tuple[str, int]]  # most frequent first
    by_language: list[tuple[str, int]]
    processors: list[ProcessorScope]

    def as_json(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "canaries": self.canaries,
            "superseded_versions": self.versions,
            "by_nationality": dict(self.by_nationality),
            "by_language": dict(self.by_language),
            "processors": [asdict(p) for p in self.processors],
        }


def _counts(session: Session, column: Any) -> list[tuple[str, int]]:
    n = func.count().label("n")
    rows = session.execute(
        select(column, n)
        .where(Subject.is_canary.is_(False))
        .group_by(column)
        .order_by(n.desc(), column)
    ).all()
    return [(str(k), int(v)) for k, v in rows]


def population_summary(session: Session) -> PopulationSummary:
    """Summarise the registry and the processors' scopes."""
    canaries = session.scalar(select(func.count()).where(Subject.is_canary)) or 0
    total = session.scalar(select(func.count()).select_from(Subject)) or 0
    versions = session.scalar(select(func.count()).select_from(SubjectVersion)) or 0
    scope = dict(
        session.execute(
            select(
                Assignment.processor_id, func.count(func.distinct(Assignment.subject_id))
            ).group_by(Assignment.processor_id)
        ).all()
    )
    processors = [
        ProcessorScope(p.name, p.legal_name, p.region, int(scope.get(p.id, 0)))
        for p in session.scalars(select(Processor).order_by(Processor.name))
    ]
    return PopulationSummary(
        people=total - canaries,
        canaries=canaries,
        versions=versions,
        by_nationality=_counts(session, Subject.nationality),
        by_language=_counts(session, Subject.preferred_language),
        processors=processors,
    )
