"""``apply``: make the baseline match a requirements file, and say what changed.

Declarative and idempotent, like ``vigie processors apply``: a requirement new to the
database is created (``requirement:create``), a higher version of a known one is added
(``requirement:version``); a version already applied with the same content changes
nothing. Versions are never updated or deleted: the history is what a dossier cites.
Requirements in the database but not in the file are left alone and reported.

Refused, with the place in the file, and nothing applied:

- an id reused with another meaning (another ``kind`` or ``check``): give a new id;
- a version already applied with a different content: raise the version;
- a version older than the one applied;
- a deadline in the past for a version not applied yet.

Each event's detail carries the SHA-256 of the version's content
(:func:`vigie.requirements.spec.content_sha256`): the text, parameters, deadline and
consequence a processor was held to are evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import InvalidInput
from vigie.processors.spec import SpecRejected
from vigie.requirements.models import RequirementVersion
from vigie.requirements.spec import Parsed, RequirementSpec, content_sha256, load_requirements


@dataclass(frozen=True)
class Change:
    """A requirement created, or a new version of one."""

    op: str  # "create" or "version"
    requirement: str
    version: int
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # item -> (old, new)


@dataclass(frozen=True)
class ApplyResult:
    """What ``apply`` did (or, with ``dry_run``, would do)."""

    baseline: str
    changes: list[Change]
    unmanaged: list[str]
    dry_run: bool


def latest_versions(session: Session) -> dict[str, RequirementVersion]:
    """The baseline: the latest version of every requirement applied."""
    out: dict[str, RequirementVersion] = {}
    for row in session.scalars(select(RequirementVersion).order_by(RequirementVersion.version)):
        out[row.requirement] = row
    return out


def stored_content(row: RequirementVersion) -> dict[str, Any]:
    """A stored version's content, in the form :func:`content_sha256` hashes."""
    return {
        "id": row.requirement,
        "version": row.version,
        "kind": row.kind,
        "check": row.check,
        "text": {"fr": row.text_fr, "en": row.text_en},
        "parameters": row.parameters,
        "deadline": row.deadline.isoformat(),
        "consequence": row.consequence,
        "reduce_budget_to": row.reduce_budget_to,
        "clauses": list(row.clauses),
    }


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        k: (old.get(k), v) for k, v in new.items() if k not in ("id", "version") and old.get(k) != v
    }


def plan(session: Session, *, parsed: Parsed, today: date) -> ApplyResult:
    """The changes that would make the baseline match the file (writes nothing).

    Raises :class:`SpecRejected` listing every problem that needs the database."""
    latest = latest_versions(session)
    applied = {(r.requirement, r.version): r for r in session.scalars(select(RequirementVersion))}
    changes: list[Change] = []
    problems: list[tuple[str, str, int | None]] = []

    def problem(path: str, reason: str) -> None:
        problems.append((path, reason, parsed.line(path)))

    for i, req in enumerate(parsed.spec.requirements):
        at = f"requirements[{i}]"
        content = req.content()
        current = latest.get(req.id)
        if current is not None and (current.kind, current.check) != (req.kind, req.check):
            problem(
                f"{at}.check",
                f"id {req.id!r} already means {current.kind} check {current.check!r}; an id "
                "keeps its meaning for ever: give this requirement a new id",
            )
            continue
        if current is not None and req.version < current.version:
            problem(
                f"{at}.version",
                f"version {req.version} is older than the applied version {current.version}",
            )
            continue
        same = applied.get((req.id, req.version))
        if same is not None:
            if same.content_sha256 != content_sha256(content):
                changed = ", ".join(sorted(_diff(stored_content(same), content)))
                problem(
                    f"{at}.version",
                    f"version {req.version} of {req.id!r} was applied with another content "
                    f"({changed}): raise the version to change it",
                )
            continue
        if req.deadline < today:
            problem(f"{at}.deadline", f"deadline {req.deadline} is in the past (today {today})")
            continue
        if current is None:
            changes.append(Change("create", req.id, req.version, diff=_diff({}, content)))
        else:
            changes.append(
                Change("version", req.id, req.version, diff=_diff(stored_content(current), content))
            )
    if problems:
        raise SpecRejected(parsed.source, problems)
    in_file = {r.id for r in parsed.spec.requirements}
    return ApplyResult(
        baseline=parsed.spec.baseline,
        changes=changes,
        unmanaged=sorted(set(latest) - in_file),
        dry_run=True,
    )


def _write(session: Session, *, req: RequirementSpec, op: str, actor: str, now: datetime) -> int:
    content = req.content()
    digest = content_sha256(content)
    seq = trail.append(
        session,
        action=Action.REQUIREMENT_CREATE if op == "create" else Action.REQUIREMENT_VERSION,
        actor=actor,
        detail={
            "requirement": req.id,
            "version": req.version,
            "kind": req.kind,
            "check": req.check,
            "deadline": req.deadline.isoformat(),
            "consequence": req.consequence,
            "content_sha256": digest,
        },
        at=now,
    )
    session.add(
        RequirementVersion(
            requirement=req.id,
            version=req.version,
            kind=req.kind,
            check=req.check,
            text_fr=req.text.fr,
            text_en=req.text.en,
            parameters=dict(req.parameters),
            deadline=req.deadline,
            consequence=req.consequence,
            reduce_budget_to=req.reduce_budget_to,
            clauses=list(req.clauses),
            content_sha256=digest,
            applied_at=now,
            audit_seq=seq,
        )
    )
    return seq


def apply_parsed(
    session: Session, *, parsed: Parsed, actor: str, now: datetime, dry_run: bool = False
) -> ApplyResult:
    """Make the baseline match the file; every change audited (see the module docstring)."""
    result = plan(session, parsed=parsed, today=now.date())
    if dry_run or not result.changes:
        return ApplyResult(result.baseline, result.changes, result.unmanaged, dry_run)
    specs = {r.id: r for r in parsed.spec.requirements}
    try:
        for change in result.changes:
            _write(session, req=specs[change.requirement], op=change.op, actor=actor, now=now)
        session.flush()
    except IntegrityError:
        session.rollback()
        raise InvalidInput(
            "requirements changed while applying (another apply at the same time?); nothing "
            "applied, apply the file again"
        ) from None
    return ApplyResult(result.baseline, result.changes, result.unmanaged, False)


def apply_file(
    session: Session, *, path: Path, actor: str, now: datetime, dry_run: bool = False
) -> ApplyResult:
    """Validate the requirements file at ``path`` and apply it (see :func:`apply_parsed`)."""
    return apply_parsed(
        session, parsed=load_requirements(path), actor=actor, now=now, dry_run=dry_run
    )
