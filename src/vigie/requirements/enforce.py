"""Enforcement with a clock: warnings before a deadline, the consequence after it.

:func:`enforce` judges every provider at ``now`` (:mod:`vigie.requirements.standing`)
and acts, once per provider and requirement version (``requirement_actions`` makes a
second run at the same state change nothing):

- not met, deadline ahead: a **warning** (``requirement:warn``), e-mailed to the
  provider's contact by :func:`warn_by_mail`, and shown by ``requirements status``;
- not met, deadline passed: the baseline's **consequence**, through the code paths that
  already do it, each audited with the requirement as reason:

  - ``refuse_new_keys``: the processor's ``new_keys_refused`` is set, and
    :func:`vigie.processors.keys.issue_key` refuses; lifted (``requirement:lift``) as soon
    as no overdue requirement asks for it any more;
  - ``reduce_budget``: each contract in force gets ``budget × reduce_budget_to`` (per day
    and per 30 days, at least 1), as a ``contract:update`` with the reason; a later
    ``processors apply`` that restores the budget is undone at the next run while the
    requirement stays unmet;
  - ``suspend``: :func:`vigie.processors.status.suspend_processor` (``processor:suspend``);
    reinstating stays an operator's decision, with a reason;
  - ``warn``: an overdue warning, nothing more;

  each followed by one ``requirement:enforce`` event naming the requirement, its version
  and the consequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.breach.channels import Bounced, Channel, DeliveryFailed
from vigie.processors.models import Contract, Processor
from vigie.processors.status import suspend_processor
from vigie.requirements.mail import warning_message
from vigie.requirements.models import RequirementAction, RequirementVersion
from vigie.requirements.standing import Standing, standings

ACTOR = "system:requirements"


@dataclass(frozen=True)
class Done:
    """One thing enforcement did."""

    processor: str
    requirement: str
    version: int
    action: str  # warn | refuse_new_keys | reduce_budget | suspend | lift
    detail: str


def reason_of(row: Standing) -> str:
    """The reason recorded with a consequence: the requirement, its version and deadline."""
    return (
        f"requirement {row.requirement} v{row.version} not met since its deadline "
        f"{row.deadline}: {'; '.join(row.reasons)}"
    )[:500]


def _already(session: Session, row: Standing, action: str) -> RequirementAction | None:
    return session.scalar(
        select(RequirementAction).where(
            RequirementAction.processor_id == row.processor_id,
            RequirementAction.requirement == row.requirement,
            RequirementAction.version == row.version,
            RequirementAction.action == action,
        )
    )


def _record(
    session: Session, row: Standing, *, action: Action, what: str, now: datetime,
    detail: dict[str, Any],
) -> None:  # fmt: skip
    seq = trail.append(
        session,
        action=action,
        actor=ACTOR,
        processor_id=row.processor_id,
        detail={
            "requirement": row.requirement,
            "version": row.version,
            "action": what,
            "deadline": row.deadline,
            **detail,
        },
        at=now,
    )
    session.add(
        RequirementAction(
            processor_id=row.processor_id, requirement=row.requirement, version=row.version,
            action=what, at=now, detail=detail, audit_seq=seq,
        )
    )  # fmt: skip
    session.flush()


def _reduce(session: Session, row: Standing, *, now: datetime, done: list[Done]) -> None:
    version = session.scalar(
        select(RequirementVersion).where(
            RequirementVersion.requirement == row.requirement,
            RequirementVersion.version == row.version,
        )
    )
    assert version is not None and version.reduce_budget_to is not None
    factor = version.reduce_budget_to
    first = _already(session, row, "reduce_budget")
    targets: dict[str, list[int]] = dict(first.detail["targets"]) if first else {}
    day = now.date()
    changed = []
    for contract in session.scalars(
        select(Contract).where(Contract.processor_id == row.processor_id).order_by(Contract.id)
    ):
        if contract.valid_from > day or (contract.valid_to is not None and contract.valid_to < day):
            continue
        if contract.name not in targets:
            targets[contract.name] = [
                max(1, int(contract.budget_per_day * factor)),
                max(1, int(contract.budget_per_30_days * factor)),
            ]
        per_day, per_30 = targets[contract.name]
        if contract.budget_per_day > per_day or contract.budget_per_30_days > per_30:
            old = (contract.budget_per_day, contract.budget_per_30_days)
            contract.budget_per_day = min(contract.budget_per_day, per_day)
            contract.budget_per_30_days = min(contract.budget_per_30_days, per_30)
            session.flush()
            trail.append(
                session, action=Action.CONTRACT_UPDATE, actor=ACTOR,
                processor_id=row.processor_id,
                detail={"contract_id": contract.id,
                        "changed": ["budget_per_30_days", "budget_per_day"],
                        "reason": f"requirement {row.requirement} v{row.version}"},
                at=now,
            )  # fmt: skip
            changed.append(f"{contract.name}: {old[0]}/day → {contract.budget_per_day}/day")
    if not changed:
        return
    if first is None:
        _record(session, row, action=Action.REQUIREMENT_ENFORCE, what="reduce_budget", now=now,
                detail={"targets": targets, "reason": reason_of(row)})  # fmt: skip
    else:
        first.detail = {**first.detail, "targets": targets}
    done.append(Done(row.processor, row.requirement, row.version, "reduce_budget",
                     "; ".join(changed)))  # fmt: skip


def enforce(session: Session, *, now: datetime, processor: str | None = None) -> list[Done]:
    """Warn and apply consequences at ``now`` (see the module docstring)."""
    rows = standings(session, at=now, processor=processor)
    done: list[Done] = []
    refusing: dict[int, list[Standing]] = {}
    for row in rows:
        if row.phase == "met":
            continue
        if row.phase == "warning" or row.consequence == "warn":
            what = "warn" if row.phase == "warning" else "warn-overdue"
            if _already(session, row, what) is None:
                _record(session, row, action=Action.REQUIREMENT_WARN, what=what, now=now,
                        detail={"reasons": list(row.reasons)})  # fmt: skip
                done.append(Done(row.processor, row.requirement, row.version, "warn",
                                 "; ".join(row.reasons)))  # fmt: skip
            continue
        if row.consequence == "refuse_new_keys":
            refusing.setdefault(row.processor_id, []).append(row)
        elif row.consequence == "reduce_budget":
            _reduce(session, row, now=now, done=done)
        elif row.consequence == "suspend":
            reason = reason_of(row)
            if suspend_processor(session, name=row.processor, reason=reason, actor=ACTOR, now=now):
                _record(session, row, action=Action.REQUIREMENT_ENFORCE, what="suspend", now=now,
                        detail={"reason": reason})  # fmt: skip
                done.append(Done(row.processor, row.requirement, row.version, "suspend", reason))
    judged = {row.processor_id for row in rows}
    for proc in session.scalars(select(Processor).where(Processor.id.in_(judged))):
        mine = refusing.get(proc.id, [])
        if mine and proc.new_keys_refused is None:
            row = mine[0]
            proc.new_keys_refused = reason_of(row)
            session.flush()
            _record(session, row, action=Action.REQUIREMENT_ENFORCE, what="refuse_new_keys",
                    now=now, detail={"reason": proc.new_keys_refused})  # fmt: skip
            done.append(Done(proc.name, row.requirement, row.version, "refuse_new_keys",
                             proc.new_keys_refused))  # fmt: skip
        elif not mine and proc.new_keys_refused is not None:
            lifted = proc.new_keys_refused
            proc.new_keys_refused = None
            session.flush()
            seq = trail.append(
                session, action=Action.REQUIREMENT_LIFT, actor=ACTOR, processor_id=proc.id,
                detail={"lifted": "refuse_new_keys"}, at=now,
            )  # fmt: skip
            done.append(Done(proc.name, "", 0, "lift", f"{lifted} (event {seq})"))
    return done


def warn_by_mail(
    sessions: sessionmaker[Session], *, done: list[Done], channel: Channel, controller: str,
    now: datetime,
) -> int:  # fmt: skip
    """E-mail each provider warned in ``done`` the list of what it does not meet (French);
    returns how many messages were handed over. A failed delivery is not retried here:
    the warning stays in the trail and in ``requirements status``."""
    warned = sorted({d.processor for d in done if d.action == "warn"})
    sent = 0
    try:
        for name in warned:
            with sessions.begin() as session:
                proc = session.scalar(select(Processor).where(Processor.name == name))
                assert proc is not None
                rows = [r for r in standings(session, at=now, processor=name) if r.phase != "met"]
                message = warning_message(
                    processor_id=proc.id, legal_name=proc.legal_name, to=proc.contact_email,
                    rows=rows, controller=controller, serial=int(now.timestamp()),
                )  # fmt: skip
            try:
                channel.deliver(message, commit=lambda: None)
                sent += 1
            except (Bounced, DeliveryFailed):
                continue
    finally:
        channel.close()
    return sent
