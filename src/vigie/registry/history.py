"""A person's versions over time: for ``vigie subjects show`` and for dating leaked values.

A person's history is their superseded versions (``subject_versions``, each valid over
``[valid_from, valid_to)``) followed by their current version (valid from ``valid_from``,
open-ended). Leak triage asks :func:`history` which values a set of people had, and
when, to bound the window in which a dump was taken.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.errors import NotFound
from vigie.registry.models import VERSIONED_FIELDS, Subject, SubjectVersion

_CHUNK = 500


@dataclass(frozen=True)
class Version:
    """One version of a person: its values and its validity ``[valid_from, valid_to)``."""

    version: int
    valid_from: datetime
    valid_to: datetime | None  # None: the current version
    values: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO strings)."""
        return {
            "version": self.version,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "values": {k: _jsonable(v) for k, v in self.values.items()},
        }


@dataclass(frozen=True)
class SubjectView:
    """A person as ``vigie subjects show`` presents them."""

    id: int
    ref: str
    is_canary: bool
    versions: list[Version]  # oldest first; the last one is current

    @property
    def current(self) -> Version:
        return self.versions[-1]

    def as_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "is_canary": self.is_canary,
            "version": self.current.version,
            "current": {k: _jsonable(v) for k, v in self.current.values.items()},
            "history": [v.as_json() for v in self.versions],
        }


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _values(row: Subject | SubjectVersion) -> dict[str, Any]:
    return {k: getattr(row, k) for k in VERSIONED_FIELDS}


def history(session: Session, *, subject_ids: Collection[int]) -> dict[int, list[Version]]:
    """Every version of each of ``subject_ids`` (oldest first); unknown ids are left out."""
    ids = sorted(set(subject_ids))
    out: dict[int, list[Version]] = defaultdict(list)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        old = session.scalars(
            select(SubjectVersion)
            .where(SubjectVersion.subject_id.in_(chunk))
            .order_by(SubjectVersion.subject_id, SubjectVersion.version)
        )
        for row in old:
            out[row.subject_id].append(
                Version(row.version, row.valid_from, row.valid_to, _values(row))
            )
        for subject in session.scalars(select(Subject).where(Subject.id.in_(chunk))):
            out[subject.id].append(
                Version(subject.version, subject.valid_from, None, _values(subject))
            )
    return dict(out)


def show(session: Session, *, ref: str) -> SubjectView:
    """The person with file number ``ref``, with their full history."""
    subject = session.scalar(select(Subject).where(Subject.ref == ref))
    if subject is None:
        raise NotFound(f"no person with ref {ref!r}")
    versions = history(session, subject_ids=[subject.id])[subject.id]
    return SubjectView(subject.id, subject.ref, subject.is_canary, versions)
