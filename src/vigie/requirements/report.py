"""Compliance across all providers: providers × requirements, as CSV and PDF.

One row per provider and requirement in force: state, phase, deadline, consequence, the
reasons and the audit events the verdict rests on; and, per provider, the trend since
the last campaign (requirements met just before it, and now).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.requirements.campaigns import tally
from vigie.requirements.models import Campaign
from vigie.requirements.standing import Standing, standings

CSV_COLUMNS = ("processor", "requirement", "version", "kind", "state", "phase", "deadline",
               "consequence", "reasons", "evidence_seqs")  # fmt: skip


@dataclass(frozen=True)
class Compliance:
    """The report's data."""

    at: datetime
    rows: list[Standing]
    campaign: dict[str, Any] | None  # the last campaign: id, label, started_at
    trend: dict[str, dict[str, Any]]  # provider -> before / now (met, total)


def compliance(session: Session, *, at: datetime) -> Compliance:
    """Every provider's standing at ``at``, and the trend since the last campaign."""
    rows = standings(session, at=at)
    last = session.scalars(
        select(Campaign).where(Campaign.started_at <= at).order_by(Campaign.id.desc()).limit(1)
    ).first()
    now = tally(session, at=at)
    trend = {
        name: {"before": (last.standing_before.get(name) if last else None), "now": counts}
        for name, counts in now.items()
    }
    campaign = (
        {"id": last.id, "label": last.label, "started_at": last.started_at.isoformat()}
        if last
        else None
    )
    return Compliance(at=at, rows=rows, campaign=campaign, trend=trend)


def to_csv(report: Compliance) -> str:
    """The rows as CSV (UTF-8, one header line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in report.rows:
        writer.writerow(
            [r.processor, r.requirement, r.version, r.kind, r.state, r.phase, r.deadline,
             r.consequence, "; ".join(r.reasons), " ".join(str(s) for s in r.evidence)]
        )  # fmt: skip
    return out.getvalue()


_COLOURS = {"met": "#d7f0d8", "warning": "#fff1c2", "overdue": "#f7d0d0"}


def to_html(report: Compliance) -> str:
    """A printable page: the providers × requirements grid, then the trend."""
    providers = sorted({r.processor for r in report.rows})
    requirements = sorted({(r.requirement, r.version) for r in report.rows})
    cell = {(r.processor, r.requirement): r for r in report.rows}
    head = "".join(f"<th>{escape(f'{n} v{v}')}</th>" for n, v in requirements)
    body = ""
    for p in providers:
        tds = ""
        for name, _ in requirements:
            r = cell.get((p, name))
            if r is None:
                tds += "<td>—</td>"
                continue
            why = escape("; ".join(r.reasons))
            tds += (
                f'<td style="background:{_COLOURS[r.phase]}"><b>{escape(r.state)}</b><br>'
                f"{escape(r.deadline)}<br><small>{why}</small></td>"
            )
        body += f"<tr><th>{escape(p)}</th>{tds}</tr>"
    trend = ""
    for name, t in sorted(report.trend.items()):
        before = t["before"]
        was = f"{before['met']}/{before['total']}" if before else "—"
        now = f"{t['now']['met']}/{t['now']['total']}"
        trend += f"<tr><td>{escape(name)}</td><td>{was}</td><td>{now}</td></tr>"
    since = (
        f"since campaign {report.campaign['id']} ({escape(report.campaign['label'])}, "
        f"{escape(report.campaign['started_at'][:10])})"
        if report.campaign
        else "no campaign yet"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Compliance of '
        "providers</title><style>@page { size: A4 landscape; margin: 1.4cm; } body { "
        "font-family: 'DejaVu Sans', sans-serif; font-size: 8pt; } table { border-collapse: "
        "collapse; } td, th { border: 1px solid #999; padding: 3px; vertical-align: top; }"
        f"</style></head><body><h1>Compliance of providers — {escape(report.at.isoformat()[:16])}"
        f"</h1><table><tr><th>provider</th>{head}</tr>{body}</table>"
        f"<h2>Trend {since}</h2><table><tr><th>provider</th><th>met before</th>"
        f"<th>met now</th></tr>{trend}</table></body></html>"
    )
