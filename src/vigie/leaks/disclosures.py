"""Where attribution learns what each processor received.

:class:`ServedIndexDisclosures` reads the audit trail's served index
(``vigie.audit.index.received_by`` / ``fields_received``) for every processor;
:class:`InMemoryDisclosures` holds a fixed list (what-if analysis, tests, replaying an
export of the index). Both answer :meth:`DisclosureSource.disclosures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.leaks.attribution import Disclosure
from vigie.processors.models import Processor


class DisclosureSource(Protocol):
    """Something that knows, per processor, which people and fields it received."""

    def disclosures(self, session: Session) -> Sequence[Disclosure] | None:
        """Every processor's disclosure history, or None when it cannot be known."""


class InMemoryDisclosures:
    """A fixed disclosure history."""

    def __init__(self, items: Sequence[Disclosure]) -> None:
        self._items = list(items)

    def disclosures(self, session: Session) -> Sequence[Disclosure] | None:
        return self._items


class ServedIndexDisclosures:
    """The disclosure history recorded by the audit trail's served index."""

    def disclosures(self, session: Session) -> Sequence[Disclosure] | None:
        try:
            from vigie.audit import index
        except ImportError:
            return None
        out = []
        for pid, name in session.execute(
            select(Processor.id, Processor.name).order_by(Processor.id)
        ):
            received = index.received_by(session, processor_id=pid)
            fields = index.fields_received(session, processor_id=pid)
            out.append(Disclosure(pid, name, frozenset(received), frozenset(fields)))
        return out
