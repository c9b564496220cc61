"""One API request, one unit of work; on SQLite, the requests waiting together commit once.

:meth:`UnitOfWork.run` runs a request as one transaction: authenticate, call one
function of :mod:`vigie.gateway.disclose` (which counts the request and charges the
budget last), commit, show the request to the detectors in a transaction of their own
(:func:`vigie.gateway.disclose.show`; a refusal or a failure there withholds the
answer), then answer. If
anything fails, the transaction is rolled back (nothing was disclosed or counted), the
refusal is recorded in a transaction of its own, and the client gets an RFC 9457 problem.

On SQLite (``grouped``) every request writes and SQLite takes one writer at a time
(:mod:`vigie.gateway.serial`), so the requests that arrived together are **committed
together** (group commit), in one dedicated writer thread: the event loop stays free to
accept connections and answer health checks while a group runs or waits for the lock,
and the thread hand-over (about 100 µs) is paid once per group, not per request. They
run one after the other in one transaction, each exactly as it would alone (the ledger
sees the earlier ones; their audit events are chained together at the end of the group,
in order, by :mod:`vigie.gateway.audit_batch`), and none is answered before that
transaction commits. If any of them fails, the whole transaction is rolled back — nothing of any of
them was disclosed, counted or recorded — and each is run again alone through
:meth:`UnitOfWork.run`, so refusals, their records and their answers are the ones a lone
request gets. One begin and one commit then serve several requests, which is most of a
read's cost once its statements are cheap; and the writer runs them on one connection it
keeps (:mod:`vigie.gateway.writer`), not through a new ORM session per transaction.
Detection's own transaction after the commit and a refusal's record still take a session
of their own.

On PostgreSQL (row locks, requests of different processors in parallel) each request runs
alone in a thread of the unit of work's own pool (as many threads as Starlette's default
pool: 40), handed over with the request's context (its request id for the logs); the
hand-over costs about half of Starlette's ``run_in_threadpool``. Its transaction is a
Core transaction on a connection checked out of the pool for it, with a session bound to
it and the driver cursor pinned (:func:`vigie.gateway.transaction.pooled`), not a new
ORM session. Detection's transaction after the commit and a refusal's record still take
a session of their own (detection delivers its alerts on the session's ``after_commit``).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

import orjson
from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from vigie.errors import AuditFailure, VigieError
from vigie.gateway import audit_batch, disclose, meter, transaction
from vigie.gateway.ahead import Wanted
from vigie.gateway.disclose import Attempt, Caller, Disclosure, Gate
from vigie.gateway.problems import INTERNAL, UNAVAILABLE, problem, problem_for
from vigie.gateway.serial import WriterQueue
from vigie.gateway.writer import WriterConnection
from vigie.ops.logs import Code

log = logging.getLogger(__name__)

Work = Callable[[Session, Caller, Attempt, datetime], Disclosure]
MAX_GROUP = 32
"""Most requests committed together; the rest wait for the next group."""
THREADS = 40
"""Threads running requests one by one (not ``grouped``): Starlette's default pool size."""


@dataclass
class _Waiting:
    """A request queued for the next group commit."""

    request: Request
    kind: str
    token: str | None
    work: Work
    status: int
    now: datetime
    answer: asyncio.Future[Response]


class UnitOfWork:
    """Runs API requests as units of work, with denials recorded on their own."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        gate: Gate,
        clock: Callable[[], datetime],
        after_commit: Sequence[Callable[[], None]] = (),
        queue: WriterQueue | None = None,
        *,
        grouped: bool = False,
    ) -> None:
        self.sessions = sessions
        self.queue = queue
        self.gate = gate
        self.clock = clock
        self.after_commit = after_commit
        self._waiting: list[_Waiting] = []
        self._busy = False  # a group is running in the writer thread
        self._writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigie-writer")
            if grouped
            else None
        )
        # The writer's requests run on one kept connection (:mod:`vigie.gateway.writer`).
        self._engine: Engine = sessions.kw["bind"]
        self._kept = WriterConnection(self._engine) if grouped else None
        self._threads = (
            None
            if grouped
            else ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="vigie-request")
        )

    async def call(
        self,
        request: Request,
        *,
        kind: str,
        token: str | None,
        work: Work,
        status: int = 200,
        read_ahead: Wanted | None = None,
    ) -> Response:
        """Run the request: in the next group commit if ``grouped``, else in the thread pool
        (``read_ahead``: see :func:`vigie.gateway.disclose.begin`)."""
        loop = asyncio.get_running_loop()
        if self._threads is not None:
            run = functools.partial(
                self.run,
                request,
                kind=kind,
                token=token,
                work=work,
                status=status,
                read_ahead=read_ahead,
            )
            context = contextvars.copy_context()
            return await loop.run_in_executor(self._threads, context.run, run)
        waiting = _Waiting(request, kind, token, work, status, self.clock(), loop.create_future())
        self._waiting.append(waiting)
        if not self._busy:
            self._busy = True
            # After the requests already scheduled on this turn of the loop have queued.
            loop.call_soon(self._next_group)
        return await waiting.answer

    def _next_group(self) -> None:
        """Hand the waiting requests (at most MAX_GROUP) to the writer thread."""
        if not self._waiting:
            self._busy = False
            return
        group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
        assert self._writer is not None
        done = asyncio.get_running_loop().run_in_executor(self._writer, self._settle, group)
        done.add_done_callback(lambda outcome: self._answer_group(group, outcome))

    def _settle(self, group: Sequence[_Waiting]) -> list[Response]:
        """In the writer thread: the group's answers, together or each alone."""
        answers = self._together(group) if len(group) > 1 else None
        return answers if answers is not None else [self._alone(w) for w in group]

    def _answer_group(
        self, group: Sequence[_Waiting], outcome: asyncio.Future[list[Response]]
    ) -> None:
        """On the event loop: answer every request of the group, then start the next."""
        try:
            error = outcome.exception()
            answers = outcome.result() if error is None else []
            for i, waiting in enumerate(group):
                if waiting.answer.done():  # the client has gone
                    continue
                if error is not None:  # never leave a request waiting forever
                    waiting.answer.set_exception(error)
                else:
                    waiting.answer.set_result(answers[i])
        finally:
            self._next_group()

    def _alone(self, w: _Waiting) -> Response:
        """The request in a transaction of its own (a group of one, or after a group failed)."""
        return self.run(
            w.request, kind=w.kind, token=w.token, work=w.work, status=w.status, now=w.now
        )

    def _together(self, group: Sequence[_Waiting]) -> list[Response] | None:
        """The group's answers after one commit, or None if anything failed (rolled back)."""
        results = []
        attempts = []
        try:
            with self._turn(), self._transaction() as session:
                audit_batch.gather(session)  # the group's events chained at its end
                for w in group:
                    attempt = Attempt(origin=_origin(w.request), kind=w.kind)
                    attempts.append(attempt)
                    caller = disclose.begin(
                        session, gate=self.gate, token=w.token, attempt=attempt, now=w.now
                    )
                    results.append(w.work(session, caller, attempt, w.now))
                results = audit_batch.settle(session, results)
        except Exception:  # each request runs again alone and meets its own fate
            return None
        withheld = self._observe([w.request for w in group], results)
        answers = []
        for w, attempt, result, refused in zip(group, attempts, results, withheld, strict=True):
            self._after_commit()
            if refused is not None:
                answers.append(refused)
                continue
            meter.served(w.request, attempt, result)
            answers.append(_answer(result, w.status))
        return answers

    def run(
        self,
        request: Request,
        *,
        kind: str,
        token: str | None,
        work: Work,
        status: int = 200,
        now: datetime | None = None,
        read_ahead: Wanted | None = None,
    ) -> Response:
        """Run one request in a transaction of its own and answer it."""
        now = now or self.clock()
        attempt = Attempt(origin=_origin(request), kind=kind)
        try:
            with self._turn(), self._transaction() as session:
                caller = disclose.begin(
                    session,
                    gate=self.gate,
                    token=token,
                    attempt=attempt,
                    now=now,
                    read_ahead=read_ahead,
                )
                result = work(session, caller, attempt, now)
        except VigieError as exc:
            return self._deny(request, attempt, exc, now)
        except Exception:
            log.exception("gateway request failed; rolled back, nothing disclosed")
            return problem(INTERNAL, "an internal error occurred; nothing was disclosed")
        self._after_commit()
        refused = self._observe([request], [result])[0]
        if refused is not None:
            return refused
        meter.served(request, attempt, result)
        return _answer(result, status)

    def _observe(
        self, requests: Sequence[Request], results: Sequence[Disclosure]
    ) -> list[Response | None]:
        """After the commit: show the requests to the observers, in one transaction of their
        own; for each, the problem to answer instead if its answer is withheld, else None.

        A refusal withholds that answer; a failure of detection withholds them all (fail
        closed). What the observers decided stays committed either way.
        """
        if not self.gate.observers:
            return [None] * len(results)
        out: list[Response | None] = []
        try:
            with self._turn(), self.sessions.begin() as session:
                for request, result in zip(requests, results, strict=True):
                    access = result.access
                    refusal = (
                        None
                        if access is None
                        else disclose.show(session, gate=self.gate, access=access)
                    )
                    out.append(
                        None if refusal is None else problem_for(refusal, instance=request.url.path)
                    )
        except Exception:
            log.exception("detection failed after the commit; the answers were withheld")
            return [
                problem(UNAVAILABLE, "detection could not run; nothing was sent") for _ in results
            ]
        return out

    def _deny(self, request: Request, attempt: Attempt, exc: VigieError, now: datetime) -> Response:
        instance = request.url.path
        meter.denied(request, attempt, exc)
        if isinstance(exc, AuditFailure):
            log.error("audit trail unavailable: %s", Code(type(exc).__name__))
            return problem_for(exc, instance=instance)
        try:
            with self._turn(), self.sessions.begin() as session:
                disclose.record_denial(session, gate=self.gate, attempt=attempt, error=exc, now=now)
        except Exception:
            log.exception("could not record a denied request")
            return problem(UNAVAILABLE, "the request could not be recorded; nothing was sent")
        self._after_commit()
        return problem_for(exc, instance=instance)

    def _transaction(self) -> AbstractContextManager[Session]:
        """A request's (or a group's) transaction: on the writer's kept connection when
        ``grouped``, else on a pooled connection checked out for it
        (:func:`vigie.gateway.transaction.pooled`); never a new ORM session's machinery."""
        if self._kept is not None:
            return self._kept.begin()
        return transaction.pooled(self._engine)

    def _turn(self) -> AbstractContextManager[None]:
        return self.queue.turn() if self.queue is not None else nullcontext()

    def _after_commit(self) -> None:
        for hook in self.after_commit:
            try:
                hook()
            except Exception:
                log.exception("after-commit hook failed")


def _origin(request: Request) -> str | None:
    return request.client.host if request.client else None


def _answer(result: Disclosure, status: int) -> Response:
    headers = {"Cache-Control": "no-store"}
    if result.remaining_today is not None:
        headers["X-Budget-Remaining-Today"] = str(result.remaining_today)
        headers["X-Budget-Remaining-30-Days"] = str(result.remaining_30_days)
    return Response(
        orjson.dumps(result.body),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
