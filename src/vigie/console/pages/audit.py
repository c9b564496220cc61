"""The audit page: the trail's anchoring and checkpoints, a verification run as a job,
the inclusion proof of any single disclosure, and the export as a download.

The verification is :func:`vigie.jobs.tasks.submit_audit_verification` (``vigie audit
verify --background``); a proof is :func:`vigie.audit.proofs.inclusion` (``vigie audit
prove``), checked against the signing key before it is shown; the export is
:func:`vigie.audit.export.export_trail` (``vigie audit export``), zipped.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, RedirectResponse, Response

from vigie.audit.export import export_trail
from vigie.audit.index import receipt
from vigie.audit.key import AuditKey
from vigie.audit.proofs import InclusionProof, check_inclusion, inclusion
from vigie.console.figures import audit_health, checkpoints, last_verification
from vigie.console.guard import ConsoleDep, Visit, VisitDep
from vigie.console.i18n import N_, Formatter
from vigie.console.pages.common import context
from vigie.console.pages.jobs import job_values, load_job, wants_partial
from vigie.console.pages.overview import audit_values
from vigie.console.roles import GRANTS, Need, Role
from vigie.console.state import Console
from vigie.errors import InvalidInput, NotFound
from vigie.jobs.models import JobState
from vigie.jobs.queue import list_jobs
from vigie.jobs.tasks import AUDIT_VERIFY, submit_audit_verification
from vigie.processors.directory import get_processor
from vigie.registry.models import Subject

router = APIRouter()
TITLES = (N_("Audit verification"), N_("Inclusion proof"))


def _may(visit: Visit) -> bool:
    return Role(visit.role) in GRANTS[Need.AUDIT]


def audit_page_values(console: Console, fmt: Formatter) -> dict[str, Any]:
    with console.sessions() as db:
        health = audit_health(db)
        verified = last_verification(db)
        rows = checkpoints(db)
        listed = [
            {
                "id": c.id,
                "size": fmt.number(c.size),
                "at": fmt.when(c.at),
                "root": c.root.hex(),
                "key": c.key_fingerprint[:16],
            }
            for c in rows
        ]
        runs = [
            job_values(j, fmt, poll=f"/audit/verifications/{j.id}")
            for j in list_jobs(db, kind=AUDIT_VERIFY, limit=5)
        ]
    return {
        "audit": audit_values(console, fmt, health, verified),
        "checkpoints": listed,
        "runs": runs,
        "fingerprint": AuditKey.of(console.secrets.verify_key).fingerprint,
    }


@router.get("/audit")
async def audit(console: ConsoleDep, visit: VisitDep) -> Response:
    values = await run_in_threadpool(audit_page_values, console, visit.fmt)
    return console.renderer.page(
        "audit.html",
        context(visit, section="/audit", title="Audit", can_run=_may(visit), **values),
    )


def _submit(console: Console, visit: Visit) -> int:
    with console.sessions.begin() as db:
        return submit_audit_verification(db, actor=visit.actor).id


@router.post("/audit/verify")
async def verify(console: ConsoleDep, visit: VisitDep) -> Response:
    job_id = await run_in_threadpool(_submit, console, visit)
    await run_in_threadpool(console.anchored)
    return RedirectResponse(f"/audit/verifications/{job_id}", status_code=303)


def _verification(console: Console, fmt: Formatter, job_id: int) -> dict[str, Any]:
    job = load_job(console, job_id=job_id, kind=AUDIT_VERIFY)
    result = job.result or {}
    facts: list[tuple[str, str]] = []
    if job.state == JobState.DONE:
        yes, no = fmt.gettext("yes"), fmt.gettext("no")
        facts = [
            (fmt.gettext("Events verified"), fmt.number(int(result.get("events", 0)))),
            (fmt.gettext("Checkpoints verified"), fmt.number(int(result.get("checkpoints", 0)))),
            (fmt.gettext("Everything anchored"), yes if result.get("anchored") else no),
            (fmt.gettext("Head hash"), str(result.get("head_hash", ""))),
            (fmt.gettext("Merkle root"), str(result.get("root", ""))),
            (fmt.gettext("Seconds"), fmt.number(float(result.get("seconds", 0)))),
        ]
        if result.get("unanchored"):
            facts.append((fmt.gettext("Not anchored"), str(result["unanchored"])))
    return job_values(job, fmt, poll=f"/audit/verifications/{job.id}", facts=facts)


@router.get("/audit/verifications/{verification_id}")
async def verification(
    request: Request, console: ConsoleDep, visit: VisitDep, verification_id: int
) -> Response:
    job = await run_in_threadpool(_verification, console, visit.fmt, verification_id)
    values = context(visit, section="/audit", title=TITLES[0], job=job)
    name = "partials/job.html" if wants_partial(request) else "audit_job.html"
    return console.renderer.page(name, values)


def find_proof(
    console: Console, *, event: int | None, processor: str, person: str, which: str
) -> InclusionProof:
    """The checked inclusion proof of an event, given by number or as the first or last
    disclosure of ``person`` (a ``ref``) to ``processor``."""
    with console.sessions() as db:
        if event is None:
            if not processor or not person:
                raise InvalidInput("give an event number, or a processor and a person's ref")
            pid = get_processor(db, name=processor).id
            sid = db.scalar(select(Subject.id).where(Subject.ref == person))
            found = receipt(db, processor_id=pid, subject_id=sid) if sid is not None else None
            if found is None:
                raise NotFound("this processor received nothing of this person")
            event = found.last_seq if which == "last" else found.first_seq
        proof = inclusion(db, seq=event)
    check_inclusion(proof, public_key=console.secrets.verify_key)
    return proof


def proof_values(proof: InclusionProof, fmt: Formatter) -> dict[str, Any]:
    cp = proof.checkpoint
    event = proof.event or {}
    return {
        "seq": proof.seq,
        "action": str(event.get("action", "")),
        "at": str(event.get("at", "")),
        "actor": str(event.get("actor", "")),
        "leaf": proof.leaf.hex(),
        "path": [p.hex() for p in proof.path],
        "checkpoint": cp.id,
        "size": fmt.number(cp.size),
        "root": cp.root.hex(),
        "signature": cp.signature.hex(),
    }


@router.get("/audit/proof")
async def proof(
    console: ConsoleDep,
    visit: VisitDep,
    event: Annotated[int | None, Query(ge=1)] = None,
    processor: Annotated[str, Query(max_length=64)] = "",
    person: Annotated[str, Query(max_length=64)] = "",
    which: Annotated[str, Query(pattern="^(first|last)$")] = "first",
    download: Annotated[bool, Query()] = False,
) -> Response:
    if event is None and not processor and not person:
        return RedirectResponse("/audit#h-proof", status_code=303)  # the lookup forms
    found = await run_in_threadpool(
        lambda: find_proof(console, event=event, processor=processor, person=person, which=which)
    )
    if download:
        body = json.dumps(found.to_json(), indent=2, ensure_ascii=False) + "\n"
        return Response(
            body,
            media_type="application/json",
            headers={
                "content-disposition": f'attachment; filename="proof-{found.seq}.json"',
                "cache-control": "no-store",
            },
        )
    values = proof_values(found, visit.fmt)
    return console.renderer.page(
        "audit_proof.html",
        context(visit, section="/audit", title=TITLES[1], proof=values),
    )


def _export(console: Console, visit: Visit) -> Path:
    work = Path(tempfile.mkdtemp(prefix="export-", dir=console.settings.data_dir))
    work.chmod(0o700)
    try:
        report = export_trail(
            console.engine,
            console.sessions,
            out=work / "trail",
            secrets=console.secrets,
            actor=visit.actor,
        )
        archive = work / "audit-export.zip"
        with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name in sorted(p.name for p in report.directory.iterdir()):
                z.write(report.directory / name, arcname=f"audit-export/{name}")
        shutil.rmtree(report.directory)
        return archive
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


@router.post("/audit/export")
async def export(console: ConsoleDep, visit: VisitDep) -> Response:
    archive = await run_in_threadpool(_export, console, visit)
    return FileResponse(
        archive,
        media_type="application/zip",
        filename="audit-export.zip",
        headers={"cache-control": "no-store"},
        background=BackgroundTask(shutil.rmtree, archive.parent, ignore_errors=True),
    )
