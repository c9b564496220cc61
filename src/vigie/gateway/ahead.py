"""A read's scope query sent with its caller's, in one round trip (PostgreSQL).

A read (``GET /api/v1/subjects/{pseudonym}``) needs its caller — the key, its processor,
the contracts in force (:mod:`vigie.gateway.caller`) — before its scope query
(:mod:`vigie.gateway.scope`): the processor's pseudonymiser decodes the pseudonym, the
contracts choose the assignments and the columns. One after the other, that is two
round trips.

:class:`Guesses` remembers, per key prefix (the token's public part), what the last read
with that key found: the processor, the contracts in force and the columns they may
read. With a guess, the scope query built from it goes in the caller's round trip
(``identify(also=...)``, with the transaction's ``BEGIN``), and its rows are used only if
the caller's statement, read in that same round trip, finds exactly that processor,
those contracts and those columns; otherwise they are dropped and the scope query runs
again from what was read. Nothing about the key is taken from the guess: its state
(secret, revoked, suspended, expired, its processor suspended, its addresses) comes from
the fresh statement as before, so a revocation or a suspension applies from the very
next request, and a stale guess costs one round trip more, never another answer. The
scope query runs before the key is checked; its rows are dropped, unread, if the key is
refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from vigie.errors import Unauthenticated
from vigie.fingerprint.pseudonyms import MalformedPseudonym, Pseudonymiser
from vigie.gateway import scope
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
class ReadAhead:
    """A scope query built from a guess, to send with the caller's statement."""

    guess: Guess
    pseudonym: str
    subject_id: int
    call: raw.Call
    names: tuple[str, ...]


@dataclass(frozen=True)
class Ahead:
    """The scope of one person, read ahead and confirmed by the caller's own statement."""

    pseudonym: str
    subject_id: int
    person: scope.ScopedPerson | None


class Guesses:
    """The guesses of one worker process, by key prefix."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, Guess] = {}

    def read_ahead(
        self,
        *,
        token: str | None,
        pseudonym: str,
        on: date,
        pseudonymiser: Callable[[int], Pseudonymiser],
    ) -> ReadAhead | None:
        """The scope query to send with the caller's, if this key was seen before and the
        pseudonym decodes (else None: the read goes the usual way)."""
        prefix = _prefix(token)
        guess = None if prefix is None else self._by_prefix.get(prefix)
        if guess is None:
            return None
        try:
            subject_id = pseudonymiser(guess.processor_id).decode(pseudonym)
        except MalformedPseudonym:
            return None
        if subject_id is None:
            return None
        call, names = scope.one_query(
            processor_id=guess.processor_id,
            contract_ids=guess.contract_ids,
            subject_id=subject_id,
            on=on,
            fields=guess.columns,
        )
        return ReadAhead(guess, pseudonym, subject_id, call, names)

    def confirm(
        self,
        ahead: ReadAhead | None,
        rows: list[tuple[Any, ...]] | None,
        *,
        token: str | None,
        found: Guess,
    ) -> Ahead | None:
        """Remember what the caller's statement ``found``; the person read ahead if the
        guess it was read with is exactly that, else None."""
        if ahead is not None and rows is not None and ahead.guess == found:
            return Ahead(ahead.pseudonym, ahead.subject_id, scope.one_from(rows, ahead.names))
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
