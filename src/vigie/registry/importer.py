"""``vigie subjects import``: load people from CSV or JSON Lines, all or nothing.

Every row is checked (:class:`vigie.registry.schema.SubjectRecord`) before anything is
written. If any row is bad, :class:`vigie.errors.ImportRejected` lists every problem as
``(line, field, reason)`` and the registry is left untouched. Otherwise each row is:

- *created* when its ``ref`` is new (version 1, valid from now);
- *unchanged* when it equals the person's current version — so importing the same
  file twice changes nothing the second time;
- *updated* when a value differs: the current version is kept in ``subject_versions``
  with ``valid_to`` = now, and the row becomes the new current version.

People absent from the file are left as they are (an import never deletes). One audit
event (``subject:import``) records the counts and the file's SHA-256, never values, and
seals the registry buckets the import changed (:mod:`vigie.audit.seals`): before
writing, every bucket it touches is checked against its last seal, and an import into a
registry altered behind Vigie's back is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.audit.seals import REGISTRY, Sealing
from vigie.errors import ImportRejected, InvalidInput
from vigie.registry.models import SUBJECT_FIELDS, VERSIONED_FIELDS, Subject, SubjectVersion
from vigie.registry.schema import SubjectRecord

Problem = tuple[int, str, str]
_REQUIRED = frozenset(name for name, f in SubjectRecord.model_fields.items() if f.is_required())
_CHUNK = 500


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    rows: int
    created: int
    updated: int
    unchanged: int
    sha256: str


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    """``(line, row)`` for each record of a ``.csv`` or ``.jsonl`` file, or ``(line, problem)``."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot read ({exc.strerror})") from None
    if suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_rows(text)
    elif suffix == ".csv":
        yield from _csv_rows(text)
    else:
        raise InvalidInput(f"{path.name}: expected a .csv or .jsonl file")


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    unknown = [h for h in header if h not in SUBJECT_FIELDS]
    missing = sorted(_REQUIRED - set(header))
    for name in unknown:
        yield 1, (1, name, "unknown column")
    for name in missing:
        yield 1, (1, name, "required column missing")
    if unknown or missing:
        return
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            yield line, (line, "*", f"{len(values)} values for {len(header)} columns")
            continue
        yield line, dict(zip(header, values, strict=True))


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | Problem]]:
    for line, raw in enumerate(text.split("\n"), start=1):  # not splitlines: U+2028 is data
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, (line, "*", f"not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            yield line, (line, "*", "not a JSON object")
            continue
        yield line, row


def validate(path: Path) -> list[tuple[int, SubjectRecord]]:
    """``(line, record)`` for every row of ``path``; :class:`ImportRejected` lists every bad row."""
    problems: list[Problem] = []
    records: list[tuple[int, SubjectRecord]] = []
    seen: dict[str, int] = {}
    for line, row in read_rows(path):
        if isinstance(row, tuple):
            problems.append(row)
            continue
        try:
            record = SubjectRecord.model_validate(row)
        except ValidationError as exc:
            problems.extend(_problems(line, exc))
            continue
        if record.ref in seen:
            problems.append((line, "ref", f"duplicate of line {seen[record.ref]}"))
            continue
        seen[record.ref] = line
        records.append((line, record))
    if problems:
        raise ImportRejected(problems)
    return records


def _problems(line: int, exc: ValidationError) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"])
        reason = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "missing" or ("input" in err and err["input"] is None):
            reason = "required"
        if not field and ": " in reason:  # a check across fields names its field first
            field, reason = reason.split(": ", 1)
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        out.append((line, field or "*", reason))
    return out


def import_file(
    session: Session, *, path: Path, actor: str, now: datetime | None = None
) -> ImportReport:
    """Import ``path`` into the registry in the caller's transaction (the caller commits)."""
    records = validate(path)
    now = now or datetime.now(UTC)
    created = updated = 0
    sealing = Sealing(session)
    existing: list[int] = []
    for i in range(0, len(records), _CHUNK):
        refs = [r.ref for _, r in records[i : i + _CHUNK]]
        existing += session.scalars(select(Subject.id).where(Subject.ref.in_(refs)))
    sealing.check(REGISTRY, REGISTRY.keys(existing))  # before any write
    new: list[Subject] = []
    problems: list[Problem] = []
    for i in range(0, len(records), _CHUNK):
        chunk = records[i : i + _CHUNK]
        current = {
            s.ref: s
            for s in session.scalars(
                select(Subject).where(Subject.ref.in_([r.ref for _, r in chunk]))
            )
        }
        for line, record in chunk:
            values = record.model_dump(exclude={"ref"})
            subject = current.get(record.ref)
            if subject is None:
                person = Subject(ref=record.ref, version=1, valid_from=now, **values)
                session.add(person)
                new.append(person)
                created += 1
            elif subject.is_canary:
                problems.append((line, "ref", "reserved reference (a canary's)"))
            elif any(getattr(subject, k) != v for k, v in values.items()):
                _supersede(session, subject, now)
                for k, v in values.items():
                    setattr(subject, k, v)
                subject.version += 1
                subject.valid_from = now
                updated += 1
    if problems:
        raise ImportRejected(problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = ImportReport(len(records), created, updated, len(records) - created - updated, digest)
    session.flush()
    fresh = {p.id for p in new}  # new ids: their buckets held only others before
    sealing.check(REGISTRY, REGISTRY.keys(fresh), fresh=fresh)
    sealing.append(
        action=Action.SUBJECT_IMPORT,
        actor=actor,
        detail={
            "rows": report.rows,
            "created": created,
            "updated": updated,
            "unchanged": report.unchanged,
            "sha256": digest,
        },
    )
    return report


def _supersede(session: Session, subject: Subject, now: datetime) -> None:
    old = {k: getattr(subject, k) for k in VERSIONED_FIELDS}
    session.add(
        SubjectVersion(
            subject_id=subject.id,
            version=subject.version,
            valid_from=subject.valid_from,
            valid_to=now,
            **old,
        )
    )
