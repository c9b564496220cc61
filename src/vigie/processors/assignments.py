"""Importing assignments: which people a contract covers, from when to when.

A CSV file with a header row and the columns ``ref`` (the controller's file number),
``starts_on`` and, optionally, ``ends_on`` (``YYYY-MM-DD``, inclusive; empty means
open-ended). One row puts one person in the scope of one contract::

    ref,starts_on,ends_on
    OFII-2024-000041,2025-01-06,2025-12-19
    OFII-2024-000042,2025-01-06,

Every row is checked before anything is written; a bad file is refused whole with every
problem and its line (:class:`vigie.errors.ImportRejected`). Importing the same file
twice changes nothing: a person already assigned to the contract from the same
``starts_on`` is kept, or updated if ``ends_on`` changed. With ``replace``, the
contract's assignments absent from the file are removed (the file is then the whole
scope of the contract). One ``assignment:change`` audit event records the counts and
seals the buckets of assignments it changed (:mod:`vigie.audit.seals`; they are checked
against their last seal first, and an import over tampering is refused), and
the processor's stored scope size (:mod:`vigie.processors.counts`) is counted again in
the same transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from vigie.audit.actions import Action
from vigie.audit.seals import ASSIGNMENTS as SEALED
from vigie.audit.seals import Sealing
from vigie.errors import ImportRejected, InvalidInput, NotFound
from vigie.processors.counts import recount
from vigie.processors.directory import get_processor
from vigie.processors.models import Assignment, Contract
from vigie.registry.models import Subject

MAX_PROBLEMS = 100
MAX_REF = 32  # the length of subjects.ref
ASSIGNMENTS = cast(Table, Assignment.__table__)
_BATCH = 1000


@dataclass(frozen=True)
class AssignmentReport:
    """What an import did (or, with ``dry_run``, would do)."""

    rows: int
    added: int
    updated: int
    unchanged: int
    removed: int
    dry_run: bool


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = {(name or "").strip() for name in reader.fieldnames or ()}
        missing = {"ref", "starts_on"} - header
        if missing:
            raise InvalidInput(f"missing column(s): {', '.join(sorted(missing))}")
        unknown = header - {"ref", "starts_on", "ends_on"}
        if unknown:
            raise InvalidInput(f"unknown column(s): {', '.join(sorted(unknown))}")
        for row in reader:
            clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            if any(clean.values()):
                yield reader.line_num, clean
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not valid CSV ({exc})") from None


def _day(text: str) -> date:
    if len(text) != 10:
        raise ValueError
    return date.fromisoformat(text)


def import_assignments(
    session: Session,
    *,
    processor: str,
    contract: str,
    path: Path,
    actor: str,
    replace: bool = False,
    dry_run: bool = False,
) -> AssignmentReport:
    """Load the assignments in the CSV at ``path`` into ``processor``'s ``contract``."""
    owner = get_processor(session, name=processor)
    target = session.scalar(
        select(Contract).where(Contract.processor_id == owner.id, Contract.name == contract)
    )
    if target is None:
        raise NotFound(f"processor {processor!r} has no contract {contract!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None

    problems: list[tuple[int, str, str]] = []
    wanted: dict[str, tuple[int, date, date | None]] = {}  # ref -> (line, starts, ends)
    for line, row in _rows(text):
        ref = row.get("ref", "")
        try:
            starts = _day(row.get("starts_on", ""))
        except ValueError:
            problems.append((line, "starts_on", "not a date YYYY-MM-DD"))
            continue
        ends: date | None = None
        if row.get("ends_on"):
            try:
                ends = _day(row["ends_on"])
            except ValueError:
                problems.append((line, "ends_on", "not a date YYYY-MM-DD"))
                continue
            if ends < starts:
                problems.append((line, "ends_on", "before starts_on"))
                continue
        if not ref:
            problems.append((line, "ref", "empty"))
        elif len(ref) > MAX_REF or not ref.isprintable():
            problems.append((line, "ref", "not a valid reference"))
        elif ref in wanted:
            problems.append((line, "ref", f"listed twice (first on line {wanted[ref][0]})"))
        else:
            wanted[ref] = (line, starts, ends)
        if len(problems) >= MAX_PROBLEMS:
            break

    ids: dict[str, int] = {}
    refs = list(wanted)
    for i in range(0, len(refs), _BATCH):
        chunk = refs[i : i + _BATCH]
        known = session.execute(select(Subject.ref, Subject.id).where(Subject.ref.in_(chunk)))
        ids.update((ref, sid) for ref, sid in known)
    for ref, (line, _, _) in wanted.items():
        if ref not in ids and len(problems) < MAX_PROBLEMS:
            problems.append((line, "ref", "no person with this reference"))
    if problems:
        raise ImportRejected(sorted(problems))

    existing = {
        (sid, starts): (aid, ends, sid)
        for aid, sid, starts, ends in session.execute(
            select(
                Assignment.id, Assignment.subject_id, Assignment.starts_on, Assignment.ends_on
            ).where(Assignment.contract_id == target.id)
        )
    }
    new_rows: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    keep: set[int] = set()
    for ref, (_, starts, ends) in wanted.items():
        found = existing.get((ids[ref], starts))
        if found is None:
            new_rows.append(
                {
                    "contract_id": target.id,
                    "processor_id": owner.id,
                    "subject_id": ids[ref],
                    "starts_on": starts,
                    "ends_on": ends,
                }
            )
            continue
        keep.add(found[0])
        if found[1] != ends:
            changed.append({"aid": found[0], "ends": ends, "sid": found[2]})
    stale = [(aid, sid) for aid, _, sid in existing.values() if aid not in keep] if replace else []
    report = AssignmentReport(
        rows=len(wanted),
        added=len(new_rows),
        updated=len(changed),
        unchanged=len(wanted) - len(new_rows) - len(changed),
        removed=len(stale),
        dry_run=dry_run,
    )
    if dry_run or not (new_rows or changed or stale):
        return report
    sealing = Sealing(session)
    touched = [ids[ref] for ref in wanted] + [sid for _, sid in stale]
    sealing.check(SEALED, SEALED.keys(touched))  # before writing
    if new_rows:
        session.execute(insert(ASSIGNMENTS), new_rows)
    if changed:
        table = ASSIGNMENTS
        session.execute(
            update(table).where(table.c.id == bindparam("aid")).values(ends_on=bindparam("ends")),
            [{"aid": c["aid"], "ends": c["ends"]} for c in changed],
        )
    gone = [aid for aid, _ in stale]
    for i in range(0, len(gone), _BATCH):
        session.execute(delete(Assignment).where(Assignment.id.in_(gone[i : i + _BATCH])))
    recount(session, processor_id=owner.id)  # the stored scope size, in this transaction
    sealing.append(
        action=Action.ASSIGNMENT_CHANGE,
        actor=actor,
        processor_id=owner.id,
        detail={
            "contract_id": target.id,
            "added": report.added,
            "updated": report.updated,
            "removed": report.removed,
        },
    )
    return report
