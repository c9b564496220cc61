"""Requirements (issue 16) in the console: every provider's standing, the campaigns and
their acknowledgements, the compliance report, and a provider's sanction dossier.

Each page calls the function its CLI command calls: ``vigie requirements status``
(:func:`~vigie.requirements.standing.standings`), ``campaign-status``
(:func:`~vigie.requirements.campaigns.progress`), ``report``
(:func:`~vigie.requirements.report.compliance`) and ``vigie processors dossier``
(:func:`~vigie.requirements.dossier_pack.build_dossier`, which checks the trail and
audits ``dossier:build`` with the operator as actor). The dossier is the DPO's alone.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from vigie.breach.incidents import list_incidents
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.i18n import N_, Formatter
from vigie.console.pages.common import context
from vigie.console.state import Console
from vigie.processors.directory import get_processor
from vigie.requirements.campaigns import list_campaigns, progress
from vigie.requirements.dossier_pack import build_dossier
from vigie.requirements.report import compliance, to_csv, to_html
from vigie.requirements.standing import Standing, standings

router = APIRouter()
# The values shown translated: requirement kinds, states, phases, e-mail and incident statuses.
WORDS = (
    N_("enforced"), N_("attested"), N_("checked"), N_("met"), N_("unmet"), N_("missing"),
    N_("warning"), N_("overdue"), N_("pending"), N_("sent"), N_("failed"), N_("open"),
    N_("closed"),
)  # fmt: skip


def _row(s: Standing, fmt: Formatter) -> dict[str, Any]:
    return {
        "requirement": s.requirement,
        "version": s.version,
        "text": s.text_fr if fmt.lang == "fr" else s.text_en,
        "kind": fmt.gettext(s.kind),
        "state": fmt.gettext(s.state),
        "phase": s.phase,
        "phase_text": fmt.gettext(s.phase),
        "deadline": s.deadline,
        "consequence": s.consequence,
        "reasons": "; ".join(s.reasons) or "—",
    }


def _overview(console: Console, fmt: Formatter, campaign: int | None) -> dict[str, Any]:
    now = console.clock()
    with console.sessions() as db:
        report = compliance(db, at=now)
        campaigns = list_campaigns(db)
        chosen = next((c for c in campaigns if c.id == campaign), None) or (
            campaigns[0] if campaigns else None
        )
        rows = progress(db, campaign_id=chosen.id, at=now) if chosen else []
        requirements = sorted({(r.requirement, r.version) for r in report.rows})
        cells = {(r.processor, r.requirement): r for r in report.rows}
        providers = sorted({r.processor for r in report.rows})
        return {
            "requirements": [f"{name} v{version}" for name, version in requirements],
            "grid": [
                {
                    "name": p,
                    "met": sum(1 for r in report.rows if r.processor == p and r.state == "met"),
                    "total": sum(1 for r in report.rows if r.processor == p),
                    "cells": [
                        _row(cells[(p, name)], fmt) if (p, name) in cells else None
                        for name, _version in requirements
                    ],
                }
                for p in providers
            ],
            "campaigns": [
                {
                    "id": c.id,
                    "label": c.label,
                    "started": fmt.when(c.started_at),
                    "deadline": fmt.day(c.deadline),
                    "current": chosen is not None and c.id == chosen.id,
                }
                for c in campaigns
            ],
            "campaign": (
                {
                    "id": chosen.id,
                    "label": chosen.label,
                    "by": chosen.started_by,
                    "raised": ", ".join(chosen.requirements),
                }
                if chosen
                else None
            ),
            "progress": [
                {
                    "processor": r.processor,
                    "notice": fmt.gettext(r.notice),
                    "acknowledged": r.acknowledged_at[:16].replace("T", " ")
                    if r.acknowledged_at
                    else None,
                    "meets": f"{r.met}/{r.total}",
                    "unmet": ", ".join(r.unmet) or "—",
                }
                for r in rows
            ],
        }


@router.get("/requirements")
async def requirements(
    console: ConsoleDep, visit: VisitDep, campaign: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    values = await run_in_threadpool(_overview, console, visit.fmt, campaign)
    page = context(visit, section="/requirements", title="Requirements", **values)
    return console.renderer.page("requirements.html", page)


def _report(console: Console, kind: str) -> bytes:
    with console.sessions() as db:
        data = compliance(db, at=console.clock())
    if kind == "csv":
        return to_csv(data).encode("utf-8")
    from weasyprint import HTML

    pdf: bytes = HTML(string=to_html(data)).write_pdf()
    return pdf


def _download(data: bytes, *, name: str, media_type: str) -> Response:
    return Response(
        data,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{name}"',
            "cache-control": "no-store",
        },
    )


@router.get("/requirements/compliance.csv")
async def report_csv(console: ConsoleDep) -> Response:
    data = await run_in_threadpool(_report, console, "csv")
    return _download(data, name="compliance.csv", media_type="text/csv; charset=utf-8")


@router.get("/requirements/compliance.pdf")
async def report_pdf(console: ConsoleDep) -> Response:
    data = await run_in_threadpool(_report, console, "pdf")
    return _download(data, name="compliance.pdf", media_type="application/pdf")


def _provider(console: Console, fmt: Formatter, name: str) -> dict[str, Any]:
    with console.sessions() as db:
        processor = get_processor(db, name=name)
        rows = standings(db, at=console.clock(), processor=processor.name)
        incidents = [
            {"id": i.id, "title": i.title, "status": fmt.gettext(i.status),
             "mine": i.processor_id == processor.id}
            for i in list_incidents(db)
        ]  # fmt: skip
        return {
            "processor": processor.name,
            "legal_name": processor.legal_name,
            "rows": [_row(s, fmt) for s in rows],
            "met": sum(1 for s in rows if s.state == "met"),
            "incidents": sorted(incidents, key=lambda i: (not i["mine"], -i["id"])),
        }


@router.get("/processors/{name}/requirements")
async def provider(console: ConsoleDep, visit: VisitDep, name: str) -> Response:
    values = await run_in_threadpool(_provider, console, visit.fmt, name)
    page = context(visit, section="/requirements", title="Requirements of a provider", **values)
    return console.renderer.page("provider_requirements.html", page)


def _dossier(console: Console, visit: Visit, name: str, incident: int) -> tuple[str, bytes]:
    """Build the dossier as ``vigie processors dossier`` does; zip the directory."""
    with tempfile.TemporaryDirectory(prefix="vigie-dossier-") as tmp:
        out = Path(tmp) / "dossier"
        with console.sessions.begin() as db:
            built = build_dossier(
                db, console.settings, console.secrets, processor=name,
                incident_id=incident, out_dir=out, actor=visit.actor, now=console.clock(),
            )  # fmt: skip
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(out).as_posix())
        return f"dossier-{name}-incident-{incident}-{built.audit_seq}.zip", buffer.getvalue()


@router.post("/processors/{name}/dossier")
async def dossier(
    console: ConsoleDep,
    visit: VisitDep,
    name: str,
    incident: Annotated[int, Form(ge=1)],
) -> Response:
    filename, data = await run_in_threadpool(_dossier, console, visit, name, incident)
    console.anchored()
    return _download(data, name=filename, media_type="application/zip")
