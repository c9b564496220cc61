"""The controller's own audits of a processor (*checked* requirements) and their findings.

``vigie requirements audit-record PROCESSOR --date D --findings FILE`` reads a YAML
findings file::

    findings:
      - text: "Shared administrator account on the training platform"
        deadline: 2027-04-30
      - text: "No log review"
        deadline: 2027-03-15
        closed: true

Each finding is the auditor's words about the processor (never a person's data). The
``inspection:record`` event holds the SHA-256 of the findings as canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import InvalidInput
from vigie.processors.models import Processor
from vigie.processors.spec import SpecRejected, Text, read_text, read_yaml, validation_problems
from vigie.requirements.models import Inspection


class Finding(BaseModel):
    """One finding of an audit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[Text, StringConstraints(max_length=1000)]
    deadline: date | None = None
    closed: bool = False


class FindingsFile(BaseModel):
    """The findings file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    findings: list[Finding] = Field(default_factory=list, max_length=500)


def load_findings(path: Path) -> list[dict[str, Any]]:
    """The findings of the file at ``path`` as plain values; :class:`SpecRejected` if bad."""
    source = str(path)
    data, lines = read_yaml(read_text(path), source=source)
    try:
        parsed = FindingsFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise SpecRejected(source, validation_problems(exc, lines)) from None
    return [
        {"text": f.text, "deadline": f.deadline.isoformat() if f.deadline else None,
         "closed": f.closed}
        for f in parsed.findings
    ]  # fmt: skip


def record_inspection(
    session: Session,
    *,
    processor: Processor,
    held_on: date,
    findings: list[dict[str, Any]],
    actor: str,
    now: datetime,
) -> Inspection:
    """Record an audit of ``processor`` held on ``held_on`` (audited)."""
    if held_on > now.date():
        raise InvalidInput(f"the audit date {held_on} is in the future")
    text = json.dumps(findings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    seq = trail.append(
        session,
        action=Action.INSPECTION_RECORD,
        actor=actor,
        processor_id=processor.id,
        detail={
            "held_on": held_on.isoformat(),
            "findings": len(findings),
            "findings_sha256": digest,
        },
        at=now,
    )
    row = Inspection(
        processor_id=processor.id,
        held_on=held_on,
        findings=findings,
        findings_sha256=digest,
        recorded_by=actor,
        recorded_at=now,
        audit_seq=seq,
    )
    session.add(row)
    session.flush()
    return row
