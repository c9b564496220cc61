"""Where attribution learns what each processor received.

:class:`ServedIndexDisclosures` reads the audit trail's served index
(``vigie.audit.index.received_by`` / ``fields_received``) for every processor, once the
trail and the index verify;
:class:`InMemoryDisclosures` holds a fixed list (what-if analysis, tests, replaying an
export of the index). Both answer :meth:`DisclosureSource.disclosures`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.audit.anchors import Bound
from vigie.audit.evidence import require_evidence
from vigie.audit.keyring import AuditKeys
from vigie.leaks.attribution import Disclosure
from vigie.processors.models import Processor


class DisclosureSource(Protocol):
    """Something that knows, per processor, which people and fields it received."""

    def disclosures(self, session: Session) -> Sequence[Disclosure] | None:
        """Every processor's disclosure history, or None when it cannot be known."""

    def receipts(
        self, session: Session, *, processor_id: int, subject_ids: Collection[int]
    ) -> dict[str, Any] | None:
        """When ``processor_id`` received ``subject_ids``, or None when it cannot be known."""

    def registry_state(self, session: Session) -> bytes | None:
        """The registry's state as the verified trail seals it
        (:func:`vigie.audit.seals.state_digest`), which the registry snapshot must match;
        None when this source verifies nothing."""


class InMemoryDisclosures:
    """A fixed disclosure history."""

    def __init__(self, items: Sequence[Disclosure]) -> None:
        self._items = list(items)

    def disclosures(self, session: Session) -> Sequence[Disclosure] | None:
        return self._items

    def receipts(
        self, session: Session, *, processor_id: int, subject_ids: Collection[int]
    ) -> dict[str, Any] | None:
        return None  # a fixed history has no times

    def registry_state(self, session: Session) -> bytes | None:
        return None  # nothing verified


class ServedIndexDisclosures:
    """The disclosure history recorded by the audit trail's served index.

    Evidence only once verified: the first question asked verifies the trail and the
    index (:func:`vigie.audit.evidence.require_evidence`) with ``public_key``, and raises
    :class:`vigie.errors.IntegrityError` (attribution refused) when they do not verify, or
    when the events after the last signed checkpoint exceed ``bound``.

    Of the sealed tables, triage reads only the registry, and only through its snapshot
    (:mod:`vigie.leaks.snapshot`), whose rows were checked against their seals when it was
    built: the gate verifies every seal chain and head but reads back no sealed rows, and
    :meth:`registry_state` gives the state the snapshot must have been checked against.
    (Re-reading the 8.9 million sealed rows of a 2.1-million-person registry took about
    17 CPU-seconds per analysis, most of a warm triage of a 210,000-row dump;
    ``vigie audit verify`` still reads them all.)
    """

    def __init__(self, *, public_key: AuditKeys, bound: Bound) -> None:
        self._public_key = public_key
        self._bound = bound
        self._registry: bytes | None = None

    def _require_verified(self, session: Session) -> None:
        if self._registry is not None:
            return
        verified = require_evidence(
            session,
            public_key=self._public_key,
            bound=self._bound,
            purpose="attribution",
            recompute_seals=(),
        )
        self._registry = verified.sealed["registry"].state

    def registry_state(self, session: Session) -> bytes | None:
        self._require_verified(session)
        return self._registry

    def disclosures(self, session: Session) -> Sequence[Disclosure] | None:
        self._require_verified(session)
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

    def receipts(
        self, session: Session, *, processor_id: int, subject_ids: Collection[int]
    ) -> dict[str, Any] | None:
        """When the processor received these people, from the served index.

        ``complete_from`` is the moment the processor first held *every* one of them (the
        latest first receipt): a file holding them all cannot have been put together from
        its disclosures before then. ``first`` and ``last`` bound all its receipts.
        """
        self._require_verified(session)
        try:
            from vigie.audit import index
        except ImportError:
            return None
        got = [r for r in index.recipients(session, subject_ids=subject_ids)
               if r.processor_id == processor_id]  # fmt: skip
        if not got:
            return None
        return {
            "people": len(got),
            "first": min(r.first_at for r in got).isoformat(),
            "complete_from": max(r.first_at for r in got).isoformat(),
            "last": max(r.last_at for r in got).isoformat(),
            "audit_seq_from": min(r.first_seq for r in got),
            "audit_seq_to": max(r.last_seq for r in got),
        }
