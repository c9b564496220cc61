"""The breach register of Art. 33(5): every incident, notified or not, exportable.

Each entry documents the facts, the effects and the remedial action, and what was
decided about notification, so the authority can verify compliance with Art. 33.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigie.breach import incidents
from vigie.breach.models import AuthorityNotification, NoticeDelivery
from vigie.errors import InvalidInput
from vigie.processors.models import Processor

COLUMNS = (
    "incident_id", "title", "source", "status", "processor", "aware_at", "opened_at",
    "closed_at", "facts", "people_affected", "fields_exposed", "risk_level", "decision",
    "authority_phases", "notices_sent", "effects", "remedial_action", "delay_reason",
    "processor_informed_at", "processor_informed_how",
)  # fmt: skip


def entries(session: Session) -> list[dict[str, Any]]:
    """One register entry per incident, oldest first."""
    out = []
    for incident in reversed(incidents.list_incidents(session)):
        summary = incidents.exposure_summary(session, incident_id=incident.id)
        processor = session.get(Processor, incident.processor_id) if incident.processor_id else None
        phases = session.scalar(
            select(func.count()).where(AuthorityNotification.incident_id == incident.id)
        )
        sent = session.scalar(
            select(func.count()).where(
                NoticeDelivery.incident_id == incident.id, NoticeDelivery.status == "sent"
            )
        )
        risk = incident.risk or {}
        out.append(
            {
                "incident_id": incident.id,
                "title": incident.title,
                "source": incident.source,
                "status": incident.status,
                "processor": processor.name if processor else None,
                "aware_at": incident.aware_at.isoformat(),
                "opened_at": incident.opened_at.isoformat(),
                "closed_at": incident.closed_at.isoformat() if incident.closed_at else None,
                "facts": incident.summary,
                "people_affected": summary.people,
                "fields_exposed": ", ".join(summary.by_field),
                "risk_level": risk.get("level"),
                "decision": risk.get("decision"),
                "authority_phases": int(phases or 0),
                "notices_sent": int(sent or 0),
                "effects": incident.effects,
                "remedial_action": incident.remedial_action,
                "delay_reason": incident.delay_reason,
                "processor_informed_at": (
                    incident.processor_informed_at.isoformat()
                    if incident.processor_informed_at
                    else None
                ),
                "processor_informed_how": incident.processor_informed_how,
            }
        )
    return out


def export(session: Session, *, out: Path) -> int:
    """Write the register to ``out`` (``.csv`` or ``.json``); return the number of entries."""
    rows = entries(session)
    if out.suffix == ".json":
        out.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif out.suffix == ".csv":
        with out.open("w", newline="", encoding="utf-8") as f:
            write_csv(rows, f)
    else:
        raise InvalidInput(f"{out}: the register is written as .csv or .json")
    return len(rows)


def write_csv(rows: Sequence[dict[str, Any]], out: TextIO) -> None:
    """Write register entries as CSV (a header, then one line per entry) to ``out``."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})


def _cell(value: Any) -> Any:
    # Spreadsheet formula injection: a cell must not start with = + - @.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
