"""``vigie subjects export``: the registry's current versions as CSV or JSON Lines.

The columns are ``SUBJECT_FIELDS``, the same the import reads, so an export imports back
unchanged. Canaries are left out unless asked for (they are Vigie's, not people of the
registry). People are written in ``ref`` order, streamed (constant memory). One audit
event (``subject:export``) records how many people left, never who.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date
from typing import Any, Literal, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.registry.models import SUBJECT_FIELDS, Subject

Format = Literal["csv", "jsonl"]


def _rows(session: Session, *, include_canaries: bool) -> Iterator[dict[str, Any]]:
    columns = [getattr(Subject, name) for name in SUBJECT_FIELDS]
    query = select(*columns).order_by(Subject.ref)
    if not include_canaries:
        query = query.where(Subject.is_canary.is_(False))
    for row in session.execute(query.execution_options(yield_per=5000)):
        yield dict(zip(SUBJECT_FIELDS, row, strict=True))


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def export_subjects(
    session: Session,
    *,
    out: TextIO,
    fmt: Format,
    actor: str,
    include_canaries: bool = False,
) -> int:
    """Write the registry to ``out``; returns how many people were written."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(SUBJECT_FIELDS)
        for row in _rows(session, include_canaries=include_canaries):
            writer.writerow(["" if v is None else _text(v) for v in row.values()])
            count += 1
    else:
        for row in _rows(session, include_canaries=include_canaries):
            out.write(json.dumps({k: _text(v) for k, v in row.items()}, ensure_ascii=False))
            out.write("\n")
            count += 1
    trail.append(
        session,
        action=Action.SUBJECT_EXPORT,
        actor=actor,
        detail={"people": count, "format": fmt, "canaries_included": include_canaries},
    )
    return count
