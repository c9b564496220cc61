"""A request's scope query sent with its caller's, in one round trip (PostgreSQL).

A read (``GET /api/v1/subjects/{pseudonym}``) or a page (``GET /api/v1/subjects``) needs
its caller — the key, its processor, the contracts in force (:mod:`vigie.gateway.caller`)
— before its scope query (:mod:`vigie.gateway.scope`): the processor's pseudonymiser
decodes the pseudonym or the page cursor, the contracts choose the assignments and the
columns. One after the other, that is two round trips.

:class:`Guesses` remembers, per key prefix (the token's public part), what the last
request with that key found: the processor, the contracts in force and the columns they
may read. With a guess, the scope query built from it goes in the caller's round trip
(``identify(also=...)``, with the transaction's ``BEGIN``), and its rows are used only if
the caller's statement, read in that same round trip, finds exactly that processor,
those contracts and those columns; otherwise they are dropped and the scope query runs
again from what was read. Nothing about the key is taken from the guess: its state
(secret, revoked, suspended, expired, its processor suspended, its addresses) comes from
the fresh statement as before, so a revocation or a suspension applies from the very
next request, and a stale guess costs one round trip more, never another answer. The
scope query runs before the key is checked; its rows are dropped, unread, if the key is
refused. A pseudonym or a cursor that does not decode is not read ahead: the request
then meets the usual refusal, in the usual order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vigie.errors import Unauthenticated
from vigie.fingerprint.pseudonyms import MalformedPseudonym, Pseudonymiser
from vigie.gateway import scope
from vigie.gateway.cursor import CursorCodec, InvalidCursor
from vigie.processors.keys import split_token
from vigie.store import raw

MAX_GUESSES = 4096
"""Keys remembered per process; past that, the guesses start again from none."""


@dataclass(frozen=True)
class Guess:
    """What the last read with a key found: its processor, contracts and readable columns."""

    processor_id: int
    contract_ids: tuple[int, ...]  # sorted
    columns: frozenset[str]


@dataclass(frozen=True)
class One:
    """A read of one person, by pseudonym."""

    pseudonym: str


@dataclass(frozen=True)
class Page:
    """A page of the people in scope (``limit`` already within the page bound)."""

    limit: int
    cursor: str | None


Wanted = One | Page


@dataclass(frozen=True)
class ReadAhead:
    """A scope query built from a guess, to send with the caller's statement."""

    guess: Guess
    wanted: Wanted
    call: raw.Call
    outcome: Callable[[list[tuple[Any, ...]]], Any]


@dataclass(frozen=True)
class Ahead:
    """What the scope query read ahead found, confirmed by the caller's own statement:
    for :class:`One`, ``(subject_id, person or None)``; for :class:`Page`, ``(after,
    people, more)`` as :func:`vigie.gateway.scope.page_in_scope` returns them."""

    wanted: Wanted
    outcome: Any


class Guesses:
    """The guesses of one worker process, by key prefix."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, Guess] = {}

    def read_ahead(
        self,
        *,
        token: str | None,
        wanted: Wanted,
        now: datetime,
        pseudonymiser: Callable[[int], Pseudonymiser],
        cursors: CursorCodec,
    ) -> ReadAhead | None:
        """The scope query to send with the caller's, if this key was seen before and the
        pseudonym or cursor decodes (else None: the request goes the usual way)."""
        prefix = _prefix(token)
        guess = None if prefix is None else self._by_prefix.get(prefix)
        if guess is None:
            return None
        pseudonyms = pseudonymiser(guess.processor_id)
        pid, contracts, fields, on = (
            guess.processor_id,
            guess.contract_ids,
            guess.columns,
            now.date(),
        )
        if isinstance(wanted, One):
            try:
                subject_id = pseudonyms.decode(wanted.pseudonym)
            except MalformedPseudonym:
                return None
            if subject_id is None:
                return None
            call, names = scope.one_query(
                processor_id=pid,
                contract_ids=contracts,
                subject_id=subject_id,
                on=on,
                fields=fields,
            )
            return ReadAhead(
                guess, wanted, call, lambda rows: (subject_id, scope.one_from(rows, names))
            )
        after = None
        if wanted.cursor:
            try:
                after = cursors.decode(wanted.cursor, pseudonymiser=pseudonyms, now=now)
            except InvalidCursor:
                return None
        call, names = scope.page_query(
            processor_id=pid,
            contract_ids=contracts,
            after=after,
            limit=wanted.limit,
            on=on,
            fields=fields,
        )
        return ReadAhead(
            guess,
            wanted,
            call,
            lambda rows: (after, *scope.page_from(rows, names, limit=wanted.limit)),
        )

    def confirm(
        self,
        ahead: ReadAhead | None,
        rows: list[tuple[Any, ...]] | None,
        *,
        token: str | None,
        found: Guess,
    ) -> Ahead | None:
        """Remember what the caller's statement ``found``; what was read ahead if the
        guess it was read with is exactly that, else None."""
        if ahead is not None and rows is not None and ahead.guess == found:
            return Ahead(ahead.wanted, ahead.outcome(rows))
        prefix = _prefix(token)
        if prefix is not None and found.contract_ids:
            if len(self._by_prefix) >= MAX_GUESSES:
                self._by_prefix.clear()
            self._by_prefix[prefix] = found
        return None


def _prefix(token: str | None) -> str | None:
    try:
        return split_token(token)[0]
    except Unauthenticated:  # refused by the caller's statement, read ahead or not
        return None
