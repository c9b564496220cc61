"""A person's disclosure report: who received which of their fields, when, and why.

:func:`disclosure_report` reads the served index of the audit trail
(``audit_disclosures``: every disclosure event that carried the person) and the events
themselves (their processor, purpose and fields). Events of one processor, purpose and
set of fields on one day make one line, with the day only (never the time), the
processors' contracts for that purpose in force that day, and the events' sequence
numbers: the controller proves each line with ``vigie audit prove SEQ``, and
:func:`line_proof` builds and checks that proof. The person's exposures in known
incidents (leaks) are listed too, and each line says whether its fields are among the
ones an incident attributed to that processor exposed.

Nothing here writes; the delivery (:mod:`vigie.public.report_links`) audits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit import proofs
from vigie.audit.models import DISCLOSURES, EVENTS
from vigie.breach.models import Incident, IncidentExposure
from vigie.errors import NotFound
from vigie.processors.models import Contract, Processor

MAX_EVENTS = 20_000  # a person read more often than this gets the newest only


@dataclass(frozen=True)
class ReportLine:
    """Processor ``processor`` received ``fields`` of the person on ``day`` for ``purpose``."""

    processor_id: int
    processor: str
    purposes: tuple[str, ...]
    contracts: tuple[str, ...]  # Art. 28 references of the contracts in force that day
    fields: tuple[str, ...]
    day: date
    seqs: tuple[int, ...]  # the audit events behind this line, oldest first
    in_leak: bool  # an incident attributed to this processor exposed some of these fields


@dataclass(frozen=True)
class LeakExposure:
    """Incident ``incident_id`` exposed these fields of the person."""

    incident_id: int
    fields: tuple[str, ...]
    processor_id: int | None


@dataclass(frozen=True)
class DisclosureReport:
    """Everything the person is told, oldest line first."""

    subject_id: int
    lines: tuple[ReportLine, ...]
    leaks: tuple[LeakExposure, ...]
    truncated: bool

    @property
    def seqs(self) -> list[int]:
        """Every audit event the report rests on."""
        return sorted({s for line in self.lines for s in line.seqs})


def _day(at_us: int) -> date:
    return datetime.fromtimestamp(at_us / 1_000_000, tz=UTC).date()


def _contracts(
    session: Session, processor_id: int, purposes: tuple[str, ...], day: date
) -> tuple[str, ...]:
    rows = session.scalars(
        select(Contract.reference).where(
            Contract.processor_id == processor_id,
            Contract.purpose.in_(purposes),
            Contract.valid_from <= day,
            (Contract.valid_to.is_(None)) | (Contract.valid_to >= day),
        )
    )
    return tuple(sorted(set(rows)))


def _leaks(session: Session, subject_id: int) -> tuple[LeakExposure, ...]:
    rows = session.execute(
        select(IncidentExposure.incident_id, IncidentExposure.fields, Incident.processor_id)
        .join(Incident, Incident.id == IncidentExposure.incident_id)
        .where(IncidentExposure.subject_id == subject_id)
        .order_by(IncidentExposure.incident_id)
    )
    return tuple(LeakExposure(i, tuple(sorted(f)), p) for i, f, p in rows)


def disclosure_report(session: Session, *, subject_id: int) -> DisclosureReport:
    """The disclosure report of person ``subject_id`` from the served index and the trail."""
    rows = session.execute(
        select(
            DISCLOSURES.c.seq,
            DISCLOSURES.c.processor_id,
            DISCLOSURES.c.at_us,
            EVENTS.c.purpose,
            EVENTS.c.fields,
        )
        .join(EVENTS, EVENTS.c.seq == DISCLOSURES.c.seq)
        .where(DISCLOSURES.c.subject_id == subject_id)
        .order_by(DISCLOSURES.c.at_us.desc(), DISCLOSURES.c.seq.desc())
        .limit(MAX_EVENTS + 1)
    ).all()
    truncated = len(rows) > MAX_EVENTS
    groups: dict[tuple[date, int, str, str], list[int]] = {}
    for seq, processor_id, at_us, purpose, fields in reversed(rows[:MAX_EVENTS]):
        groups.setdefault((_day(at_us), processor_id, purpose or "", fields or ""), []).append(seq)
    names: dict[int, str] = {
        i: n for i, n in session.execute(select(Processor.id, Processor.legal_name))
    }
    leaks = _leaks(session, subject_id)
    leaked = {
        (exp.processor_id, f) for exp in leaks if exp.processor_id is not None for f in exp.fields
    }
    lines = []
    for (day, processor_id, purpose, fields), seqs in groups.items():
        purposes = tuple(p for p in purpose.split("+") if p)
        names_of_fields = tuple(f for f in fields.split(",") if f)
        lines.append(
            ReportLine(
                processor_id=processor_id,
                processor=names.get(processor_id, f"#{processor_id}"),
                purposes=purposes,
                contracts=_contracts(session, processor_id, purposes, day),
                fields=names_of_fields,
                day=day,
                seqs=tuple(seqs),
                in_leak=any((processor_id, f) in leaked for f in names_of_fields),
            )
        )
    lines.sort(key=lambda line: (line.day, line.processor, line.seqs[0]))
    return DisclosureReport(
        subject_id=subject_id, lines=tuple(lines), leaks=leaks, truncated=truncated
    )


def line_proof(session: Session, line: ReportLine) -> proofs.InclusionProof:
    """The inclusion proof of the line's first event in the latest checkpoint, checked.

    :class:`NotFound` when no checkpoint covers it yet (``vigie audit checkpoint``);
    :class:`vigie.errors.IntegrityError` when it does not verify.
    """
    if not line.seqs:
        raise NotFound("a report line without events")
    return proofs.inclusion(session, seq=line.seqs[0])


def prove_lines(session: Session, report: DisclosureReport) -> tuple[int | None, ...]:
    """For each line, the checkpoint whose inclusion proof of it was built and checked, or
    ``None`` while no checkpoint covers it yet. A proof that does not verify raises
    :class:`vigie.errors.IntegrityError`: a report is not shown on a trail that fails."""
    out: list[int | None] = []
    for line in report.lines:
        try:
            out.append(line_proof(session, line).checkpoint.id)
        except NotFound:
            out.append(None)
    return tuple(out)
