"""What the processor API does, as library functions: read, list, write back, deny.

Each function runs inside the caller's unit of work (:mod:`vigie.gateway.unit`: one
transaction per request, or per group of requests committed together on SQLite) and
does, in this order: resolve the people in scope, project the allowed fields with their
masks, count the request and charge the budget ledger (:func:`vigie.gateway.budget.settle`:
the processor's lock, taken last), append the audit event. Only when all of that
succeeded does the caller commit; any exception rolls everything back and nothing is
disclosed. Denials are then recorded by :func:`record_denial` in a transaction of their
own.

Detection stays off the request's transaction (and so off its lock): the observers'
:meth:`~vigie.gateway.observe.AccessObserver.admit` runs before the charge, after the
look-up (a throttled key is refused there; a failed look-up is answered 404 throttled or
not, and counted as one), and their ``observe`` runs after the commit, in a
transaction of its own, before the answer leaves (:func:`show`): what it decides (an
alert, a throttle, a suspension) applies from the next request, and if it fails or
refuses, the answer is withheld (fail closed; the trail and the ledger then count a
disclosure that was not sent: they may over-state, never under-state).

Routes in :mod:`vigie.gateway.app` only parse and render; tests and benchmarks call these
functions directly too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.errors import Denied, InvalidInput, NotFound, VigieError
from vigie.fingerprint.pseudonyms import MalformedPseudonym, Pseudonymiser
from vigie.fingerprint.pseudonyms import purpose as pseudonym_purpose
from vigie.gateway import audit_batch, budget, scope
from vigie.gateway.ahead import Ahead, Guess, Guesses, One, Page, Wanted
from vigie.gateway.caller import identify
from vigie.gateway.cursor import CursorCodec
from vigie.gateway.models import SubjectEvent
from vigie.gateway.observe import Access, AccessObserver
from vigie.gateway.problems import kind_of
from vigie.ops.logs import Code
from vigie.policy.view import PSEUDONYM, Budget, ContractView, union
from vigie.policy.writeback import validate_write
from vigie.secrets import InstanceSecrets

GATEWAY_ACTOR = "system:gateway"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gate:
    """What every request needs besides its session: secrets, cursors, limits, observers."""

    secrets: InstanceSecrets
    cursors: CursorCodec
    max_page_size: int
    observers: Sequence[AccessObserver] = ()
    staged: bool = False
    """Stage the audit events (:func:`vigie.audit.trail.stage`) for the sequencer instead
    of chaining them in the request: no lock shared by all processors on the request path
    (PostgreSQL's ``vigie serve``). Events are durable at commit either way; staged ones
    have no sequence number yet (``audit_seq`` is None)."""
    read_ahead: bool = False
    """Send a read's scope query with its caller's statement, in one round trip, from
    what the last read with the same key found (PostgreSQL; :mod:`vigie.gateway.ahead`)."""
    guesses: Guesses = field(default_factory=Guesses, repr=False, compare=False)
    _pseudonymisers: dict[tuple[int, int], Pseudonymiser] = field(
        default_factory=dict, repr=False, compare=False
    )

    def pseudonymiser(self, processor_id: int) -> Pseudonymiser:
        """The processor's pseudonymiser for its current key (derived once per version and
        worker; a rotation's new version is picked up as the secrets reload it)."""
        version = self.secrets.current(pseudonym_purpose(processor_id))
        found = self._pseudonymisers.get((processor_id, version.version))
        if found is None:
            found = Pseudonymiser(self.secrets, processor_id, version=version)
            self._pseudonymisers[(processor_id, version.version)] = found
        return found


@dataclass
class Attempt:
    """What is known about a request so far; filled as it goes, read when it is denied."""

    origin: str | None
    kind: str  # "read", "list", "write"
    processor_id: int | None = None
    processor_name: str | None = None
    key_id: int | None = None
    actor: str = GATEWAY_ACTOR
    not_found: bool = False
    expired_assignment: bool = False
    page_size: int | None = None


@dataclass(frozen=True)
class Caller:
    """An authenticated processor key, with the contracts in force for its processor."""

    processor_id: int
    key_id: int
    actor: str
    origin: str | None
    views: Mapping[int, ContractView]
    purposes: Mapping[int, str]
    budget: Budget
    columns: frozenset[str]  # registry columns any current contract may read
    pseudonyms: Pseudonymiser
    ahead: Ahead | None = None  # the person read ahead of the caller (:mod:`.ahead`)
    _unions: dict[tuple[int, ...], ContractView] = field(default_factory=dict, repr=False)

    def view(self, contract_ids: tuple[int, ...]) -> ContractView:
        """The union of the views of ``contract_ids`` (cached for the request)."""
        found = self._unions.get(contract_ids)
        if found is None:
            found = union(self.views[c] for c in contract_ids)
            self._unions[contract_ids] = found
        return found

    def purpose(self, contract_ids: Iterable[int]) -> str:
        """The purposes of ``contract_ids``, for the audit event."""
        return "+".join(sorted({self.purposes[c] for c in contract_ids}))


@dataclass(frozen=True)
class Disclosure:
    """The outcome of a successful request: the body, the budget left, and for metrics the
    people sent, those newly counted today and the share of the budget used."""

    body: Any
    remaining_today: int | None = None
    remaining_30_days: int | None = None
    audit_seq: int | None = None
    people: int = 0
    newly_counted: int = 0
    budget_used: float | None = None
    access: Access | None = None
    """What the observers are shown once the request has committed (:func:`show`)."""


def begin(
    session: Session,
    *,
    gate: Gate,
    token: str | None,
    attempt: Attempt,
    now: datetime,
    read_ahead: Wanted | None = None,
) -> Caller:
    """Authenticate the key, load the contracts in force, check the rate (without a lock).

    The request is counted, exactly, by :func:`vigie.gateway.budget.settle` at its end.
    ``read_ahead``: the person or the page the request reads, whose scope query goes
    with the caller's where the gate reads ahead (:mod:`vigie.gateway.ahead`).
    """
    ahead = None
    if read_ahead is not None and gate.read_ahead:
        ahead = gate.guesses.read_ahead(
            token=token,
            wanted=read_ahead,
            now=now,
            pseudonymiser=gate.pseudonymiser,
            cursors=gate.cursors,
        )
    found = identify(
        session,
        token=token,
        client_ip=attempt.origin,
        now=now,
        also=() if ahead is None else (ahead.call,),
    )
    key = found.key
    attempt.processor_id, attempt.key_id, attempt.actor = key.processor_id, key.key_id, key.actor
    attempt.processor_name = key.processor_name
    if not found.contracts:
        raise Denied("this processor has no contract in force")
    views = {c.id: c.view for c in found.contracts}
    total = union(views.values()).budget if len(views) > 1 else next(iter(views.values())).budget
    budget.early_rate(budget=total, requests=found.rate_requests, now=now)
    columns = frozenset().union(*(v.read_fields for v in views.values())) - {PSEUDONYM}
    confirmed = None
    if read_ahead is not None and gate.read_ahead:
        confirmed = gate.guesses.confirm(
            ahead,
            found.also[0] if found.also else None,
            token=token,
            found=Guess(key.processor_id, tuple(sorted(views)), columns),
        )
    return Caller(
        processor_id=key.processor_id,
        key_id=key.key_id,
        actor=key.actor,
        origin=attempt.origin,
        views=views,
        purposes={c.id: c.purpose for c in found.contracts},
        budget=total,
        columns=columns,
        pseudonyms=gate.pseudonymiser(key.processor_id),
        ahead=confirmed,
    )


def _settle(
    session: Session, gate: Gate, caller: Caller, subject_ids: Sequence[int], now: datetime
) -> budget.Charge:
    """Let the observers refuse the caller (a throttle), then count and charge: last.
    An observer's ``admission``, where it has one, goes with the charge (one round trip)."""
    admissions = []
    pid, kid = caller.processor_id, caller.key_id
    for observer in gate.observers:
        admission = getattr(observer, "admission", None)
        if admission is None:
            observer.admit(session, processor_id=pid, key_id=kid, at=now)
        else:
            admissions.append(admission(processor_id=pid, key_id=kid, at=now))
    return budget.settle(
        session,
        processor_id=pid,
        subject_ids=subject_ids,
        now=now,
        budget=caller.budget,
        admissions=admissions,
    )


def _record(
    session: Session,
    gate: Gate,
    caller: Caller,
    *,
    now: datetime,
    kind: str,
    action: Action,
    purpose: str,
    subject_ids: Sequence[int],
    fields: Sequence[str],
    detail: Mapping[str, Any],
    **access: Any,
) -> tuple[int | None, Access]:
    """Audit a disclosure; return its sequence number (None when staged) and what the
    observers will be shown after the commit.

    ``access`` holds the request's extra :class:`Access` fields (status, cursor position…).
    """
    seq = _audit(
        session,
        gate,
        trail.NewEvent(
            action=action,
            actor=caller.actor,
            processor_id=caller.processor_id,
            key_id=caller.key_id,
            origin=caller.origin,
            purpose=purpose,
            subject_ids=subject_ids,
            fields=fields,
            detail=detail,
            at=now,
        ),
    )
    seen = Access(
        at=now,
        processor_id=caller.processor_id,
        key_id=caller.key_id,
        origin=caller.origin,
        kind=kind,
        subject_ids=tuple(subject_ids),
        fields=fields,
        audit_seq=seq,
        **access,
    )
    return seq, seen


def _audit(session: Session, gate: Gate, event: trail.NewEvent) -> int | None:
    """Chain ``event`` now, stage it for the sequencer (``gate.staged``), or leave it to
    the group commit's single append (:mod:`vigie.gateway.audit_batch`): None then, the
    group gives the number."""
    if gate.staged:
        trail.stage(session, [event])
        return None
    if audit_batch.take(session, event):
        return None
    return trail.append_many(session, [event])[0]


def _resolve(
    session: Session, *, caller: Caller, pseudonym: str, attempt: Attempt, now: datetime
) -> scope.ScopedPerson:
    """The person behind ``pseudonym`` if in scope; one identical ``NotFound`` otherwise.

    A string not spelt as a pseudonym raises ``MalformedPseudonym`` (a 400 that depends on
    the string alone, so it says nothing of anyone); like a miss, it is a failed look-up
    for the probing detector.
    """
    ahead = caller.ahead
    subject_id: int | None
    person: scope.ScopedPerson | None
    if ahead is not None and ahead.wanted == One(pseudonym):
        subject_id, person = ahead.outcome
    else:
        subject_id, person = _look_up(
            session, caller=caller, pseudonym=pseudonym, attempt=attempt, now=now
        )
    if person is None:
        attempt.not_found = True
        if subject_id is not None:
            attempt.expired_assignment = scope.was_assigned(
                session, processor_id=caller.processor_id, subject_id=subject_id
            )
        raise NotFound("not in scope")
    return person


def _look_up(
    session: Session, *, caller: Caller, pseudonym: str, attempt: Attempt, now: datetime
) -> tuple[int | None, scope.ScopedPerson | None]:
    """The subject id behind ``pseudonym`` (None if none) and the person if in scope."""
    try:
        subject_id = caller.pseudonyms.decode(pseudonym)
    except MalformedPseudonym:
        attempt.not_found = True
        raise
    person = None
    if subject_id is not None:
        person = scope.one_in_scope(
            session,
            processor_id=caller.processor_id,
            contract_ids=caller.views.keys(),
            subject_id=subject_id,
            on=now.date(),
            fields=caller.columns,
        )
    return subject_id, person


def read_subject(
    session: Session, *, gate: Gate, caller: Caller, pseudonym: str, attempt: Attempt, now: datetime
) -> Disclosure:
    """One person, by pseudonym: charged, projected, audited, observed."""
    person = _resolve(session, caller=caller, pseudonym=pseudonym, attempt=attempt, now=now)
    view = caller.view(person.contract_ids)
    record = view.project(person.row, pseudonym=pseudonym)
    fields = sorted(record)
    charged = _settle(session, gate, caller, [person.subject_id], now)
    seq, seen = _record(
        session,
        gate,
        caller,
        now=now,
        kind="read",
        action=Action.SUBJECT_READ,
        purpose=caller.purpose(person.contract_ids),
        subject_ids=[person.subject_id],
        fields=fields,
        detail={"contracts": list(person.contract_ids), "newly_counted": charged.newly_counted},
    )
    return Disclosure(
        record,
        charged.remaining_today,
        charged.remaining_30_days,
        seq,
        people=1,
        newly_counted=charged.newly_counted,
        budget_used=charged.used(caller.budget),
        access=seen,
    )


def list_subjects(
    session: Session,
    *,
    gate: Gate,
    caller: Caller,
    limit: int,
    cursor: str | None,
    attempt: Attempt,
    now: datetime,
) -> Disclosure:
    """A page of the people in scope; the budget may end the page early (``next_cursor``)."""
    attempt.page_size = limit
    if not 1 <= limit <= gate.max_page_size:
        raise InvalidInput(f"limit must be between 1 and {gate.max_page_size}")
    ahead = caller.ahead
    after: int | None
    page: scope.ScopedPage
    more: bool
    if ahead is not None and ahead.wanted == Page(limit, cursor):
        after, page, more = ahead.outcome
    else:
        after = None
        if cursor:
            after = gate.cursors.decode(cursor, pseudonymiser=caller.pseudonyms, now=now)
        page, more = scope.page_in_scope(
            session,
            processor_id=caller.processor_id,
            contract_ids=caller.views.keys(),
            after=after,
            limit=limit,
            on=now.date(),
            fields=caller.columns,
        )
    records = _project_page(caller, page)
    charged = _settle(session, gate, caller, page.subject_ids, now)
    if len(charged.admitted) < len(page.subject_ids):
        kept = len(charged.admitted)
        page, records, more = page.head(kept), records[:kept], True
    contract_ids = sorted(set().union(*page.contract_ids))
    fields = sorted(set().union(*(caller.view(c).shown_fields for c in set(page.contract_ids))))
    subject_ids = page.subject_ids
    seq, seen = _record(
        session,
        gate,
        caller,
        now=now,
        kind="list",
        action=Action.SUBJECT_LIST,
        purpose=caller.purpose(contract_ids or caller.views.keys()),
        subject_ids=subject_ids,
        fields=fields,
        detail={
            "contracts": contract_ids,
            "count": len(records),
            "limit": limit,
            "newly_counted": charged.newly_counted,
        },
        cursor_position=subject_ids[-1] if subject_ids else after,
        page_size=limit,
    )
    next_cursor = None
    if more and subject_ids:
        next_cursor = gate.cursors.encode(
            pseudonymiser=caller.pseudonyms, after_subject_id=subject_ids[-1], now=now
        )
    body = {"data": records, "next_cursor": next_cursor, "limit": limit}
    return Disclosure(
        body,
        charged.remaining_today,
        charged.remaining_30_days,
        seq,
        people=len(records),
        newly_counted=charged.newly_counted,
        budget_used=charged.used(caller.budget),
        access=seen,
    )


def _project_page(caller: Caller, page: scope.ScopedPage) -> list[dict[str, Any]]:
    """Each person of ``page`` through the union of the contracts covering them, in order.

    A page's people are usually all covered by the same contracts: then the whole page is
    projected at once; otherwise each set of contracts projects its own people.
    """
    pseudonyms = caller.pseudonyms.encode_many(page.subject_ids)
    covers = set(page.contract_ids)
    if len(covers) == 1:
        view = caller.view(next(iter(covers)))
        return view.project_many(page.names, page.rows, pseudonyms=pseudonyms)
    records: list[dict[str, Any]] = [{} for _ in page.rows]
    for contract_ids in covers:
        at = [i for i, c in enumerate(page.contract_ids) if c == contract_ids]
        projected = caller.view(contract_ids).project_many(
            page.names, [page.rows[i] for i in at], pseudonyms=[pseudonyms[i] for i in at]
        )
        for i, record in zip(at, projected, strict=True):
            records[i] = record
    return records


def write_event(
    session: Session,
    *,
    gate: Gate,
    caller: Caller,
    pseudonym: str,
    payload: Mapping[str, Any],
    attempt: Attempt,
    now: datetime,
) -> Disclosure:
    """Record a write-back about one person, if a contract covering them allows every field."""
    person = _resolve(session, caller=caller, pseudonym=pseudonym, attempt=attempt, now=now)
    view = caller.view(person.contract_ids)
    values = validate_write(view, payload)
    contract_id = next(
        (c for c in person.contract_ids if set(values) <= caller.views[c].write_fields),
        person.contract_ids[0],
    )
    event = SubjectEvent(
        processor_id=caller.processor_id,
        key_id=caller.key_id,
        contract_id=contract_id,
        subject_id=person.subject_id,
        received_at=now,
        kind="writeback",
        values=values,
    )
    session.add(event)
    session.flush()
    _settle(session, gate, caller, (), now)
    fields = sorted(values)
    seq, seen = _record(
        session,
        gate,
        caller,
        now=now,
        kind="write",
        action=Action.SUBJECT_WRITE,
        purpose=caller.purpose([contract_id]),
        subject_ids=[person.subject_id],
        fields=fields,
        detail={"contract": contract_id, "event_id": event.id},
        status=201,
    )
    body = {"event_id": event.id, PSEUDONYM: pseudonym, "recorded": values}
    return Disclosure(body, audit_seq=seq, access=seen)


def record_denial(
    session: Session, *, gate: Gate, attempt: Attempt, error: VigieError, now: datetime
) -> None:
    """Audit a refused request (``access:denied``), show it to the observers, count it.

    Runs in its own transaction after the request's was rolled back. Staged, the request
    is counted last, so the processor's rate row is held only for that statement and the
    commit; chained in the request (``staged`` off), it is counted first, as a disclosure
    is (rate row, then chain head: one lock order, no deadlock). Each observer runs in a
    savepoint (:func:`show`): what it writes (an alert, a suspension) is kept even if it
    raises ``Denied`` again, since the request is refused anyway, and one that fails is
    logged and skipped.
    """
    kind = kind_of(error)
    if attempt.processor_id is not None and not gate.staged:
        budget.count_request(session, processor_id=attempt.processor_id, now=now)
    detail: dict[str, Any] = {"status": kind.status, "problem": kind.slug, "request": attempt.kind}
    if isinstance(error, Denied):
        detail["reason"] = str(error)[:200]
    seq = _audit(
        session,
        gate,
        trail.NewEvent(
            action=Action.ACCESS_DENIED,
            actor=attempt.actor,
            processor_id=attempt.processor_id,
            key_id=attempt.key_id,
            origin=attempt.origin,
            outcome="denied",
            detail=detail,
            at=now,
        ),
    )
    if attempt.processor_id is not None and attempt.key_id is not None:
        access = Access(
            at=now,
            processor_id=attempt.processor_id,
            key_id=attempt.key_id,
            origin=attempt.origin,
            kind=attempt.kind,
            status=kind.status,
            not_found=attempt.not_found,
            expired_assignment=attempt.expired_assignment,
            page_size=attempt.page_size,
            audit_seq=seq,
        )
        show(session, gate=gate, access=access, strict=False)
    if attempt.processor_id is not None and gate.staged:
        budget.count_request(session, processor_id=attempt.processor_id, now=now)


def show(session: Session, *, gate: Gate, access: Access, strict: bool = True) -> Denied | None:
    """Show ``access`` to every observer; return the first refusal.

    Runs after the request's own commit, in a transaction of its own (detection is never
    inside a disclosure's transaction). An observer that raises ``Denied`` keeps what it
    wrote (its alert, its containment) and its refusal is returned: the caller withholds
    the answer. Any other failure, if ``strict``, propagates and the caller's transaction
    rolls back whole (the caller withholds the answer: fail closed; no savepoint, which
    would cost two round trips on PostgreSQL for nothing); otherwise each observer runs
    in a savepoint, and a failing one's is rolled back and the failure logged.
    """
    refusal: Denied | None = None
    for observer in gate.observers:
        if strict:  # a failure rolls the whole transaction back: no savepoint needed
            try:
                observer.observe(session, access)
            except Denied as exc:
                refusal = refusal or exc
            continue
        savepoint = session.begin_nested()
        try:
            observer.observe(session, access)
        except Denied as exc:
            refusal = refusal or exc
        except Exception:
            savepoint.rollback()
            log.exception("observer %s failed on a denied request", Code(type(observer).__name__))
            continue
        savepoint.commit()
    return refusal
