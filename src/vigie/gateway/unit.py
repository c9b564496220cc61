"""One API request, one unit of work; on SQLite, the requests waiting together commit once.

:meth:`UnitOfWork.run` runs a request as one transaction: authenticate, count the
request, call one function of :mod:`vigie.gateway.disclose`, commit, then answer. If
anything fails, the transaction is rolled back (nothing was disclosed or counted), the
refusal is recorded in a transaction of its own, and the client gets an RFC 9457 problem.

On SQLite (``inline``) requests run on the event loop's own thread: every request
writes and SQLite takes one writer at a time (:mod:`vigie.gateway.serial`), so a worker
thread buys no parallelism and its hand-over costs about 100 µs, a fifth of a read. There,
the requests that arrived together are also **committed together** (group commit): they
run one after the other in one transaction, each exactly as it would alone (the ledger
and the audit chain see the earlier ones), and none is answered before that transaction
commits. If any of them fails, the whole transaction is rolled back — nothing of any of
them was disclosed, counted or recorded — and each is run again alone through
:meth:`UnitOfWork.run`, so refusals, their records and their answers are the ones a lone
request gets. One begin and one commit then serve several requests, which is most of a
read's cost once its statements are cheap.

On PostgreSQL (row locks, requests of different processors in parallel) each request runs
alone in the thread pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

import orjson
from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from vigie.errors import AuditFailure, VigieError
from vigie.gateway import disclose
from vigie.gateway.disclose import Attempt, Caller, Disclosure, Gate
from vigie.gateway.problems import INTERNAL, UNAVAILABLE, problem, problem_for
from vigie.gateway.serial import WriterQueue

log = logging.getLogger(__name__)

Work = Callable[[Session, Caller, Attempt, datetime], Disclosure]
MAX_GROUP = 32
"""Most requests committed together; the rest wait for the next group."""


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
        inline: bool = False,
    ) -> None:
        self.sessions = sessions
        self.queue = queue
        self.gate = gate
        self.clock = clock
        self.after_commit = after_commit
        self.inline = inline
        self._waiting: list[_Waiting] = []

    async def call(
        self, request: Request, *, kind: str, token: str | None, work: Work, status: int = 200
    ) -> Response:
        """Run the request: in the next group commit if ``inline``, else in the thread pool."""
        if not self.inline:
            return await run_in_threadpool(
                self.run, request, kind=kind, token=token, work=work, status=status
            )
        loop = asyncio.get_running_loop()
        waiting = _Waiting(request, kind, token, work, status, self.clock(), loop.create_future())
        self._waiting.append(waiting)
        if len(self._waiting) == 1:
            # After the requests already scheduled on this turn of the loop have queued.
            loop.call_soon(self._drain)
        return await waiting.answer

    def _drain(self) -> None:
        group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._drain)
        try:
            answers = self._together(group) if len(group) > 1 else None
            if answers is None:
                answers = [self._alone(w) for w in group]
        except BaseException as exc:  # never leave a request waiting forever
            for waiting in group:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)
            raise
        for waiting, answer in zip(group, answers, strict=True):
            if not waiting.answer.done():  # the client may have gone
                waiting.answer.set_result(answer)

    def _alone(self, w: _Waiting) -> Response:
        """The request in a transaction of its own (a group of one, or after a group failed)."""
        return self.run(
            w.request, kind=w.kind, token=w.token, work=w.work, status=w.status, now=w.now
        )

    def _together(self, group: Sequence[_Waiting]) -> list[Response] | None:
        """The group's answers after one commit, or None if anything failed (rolled back)."""
        results = []
        try:
            with self._turn(), self.sessions.begin() as session:
                for w in group:
                    attempt = Attempt(origin=_origin(w.request), kind=w.kind)
                    caller = disclose.begin(
                        session, gate=self.gate, token=w.token, attempt=attempt, now=w.now
                    )
                    results.append(w.work(session, caller, attempt, w.now))
        except Exception:  # each request runs again alone and meets its own fate
            return None
        answers = []
        for w, result in zip(group, results, strict=True):
            self._after_commit()
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
    ) -> Response:
        """Run one request in a transaction of its own and answer it."""
        now = now or self.clock()
        attempt = Attempt(origin=_origin(request), kind=kind)
        try:
            with self._turn(), self.sessions.begin() as session:
                caller = disclose.begin(
                    session, gate=self.gate, token=token, attempt=attempt, now=now
                )
                result = work(session, caller, attempt, now)
        except VigieError as exc:
            return self._deny(request, attempt, exc, now)
        except Exception:
            log.exception("gateway request failed; rolled back, nothing disclosed")
            return problem(INTERNAL, "an internal error occurred; nothing was disclosed")
        self._after_commit()
        return _answer(result, status)

    def _deny(self, request: Request, attempt: Attempt, exc: VigieError, now: datetime) -> Response:
        instance = request.url.path
        if isinstance(exc, AuditFailure):
            log.error("audit trail unavailable: %s", type(exc).__name__)
            return problem_for(exc, instance=instance)
        try:
            with self._turn(), self.sessions.begin() as session:
                disclose.record_denial(session, gate=self.gate, attempt=attempt, error=exc, now=now)
        except Exception:
            log.exception("could not record a denied request")
            return problem(UNAVAILABLE, "the request could not be recorded; nothing was sent")
        self._after_commit()
        return problem_for(exc, instance=instance)

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
