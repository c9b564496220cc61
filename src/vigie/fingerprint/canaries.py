"""Canaries: synthetic people planted in every processor's scope, and their contacts.

A canary is drawn by the same generator as the synthetic population
(:func:`vigie.synth.people.generate`), so nothing in its values tells it apart; only
``subjects.is_canary`` (never served to a processor) marks it. Canaries are assigned
like everyone else — to the language and civic providers of their region and to the
platform — so each processor's scope holds its share.

Density. With a share ``d`` of canaries in a scope, a random sample of ``k`` rows of it
holds at least one canary with probability ``1 - (1 - d) ** k``. For ``k = 1000`` rows and
95 %: ``d >= 1 - 0.05 ** (1 / 1000) = 0.002991``, so the default density is 0.3 %
(``VIGIE_CANARY_DENSITY``), which gives 95.04 %. To reach density ``d`` in a scope of
``n`` real people, plant ``ceil(n * d / (1 - d))`` canaries in it.

Contacts. Each canary's e-mail addresses and phone numbers (current and superseded)
are kept in ``canary_contacts``, normalised, so a trip — a message reaching one of them —
names the canary (:func:`lookup_contact`) and, through its assignments, the processors
that received it.

Evidence. Attribution weighs a canary found in a dump heavily, so the flag is bound to
the trail: whatever plants canaries records their ids in a ``canary:plant`` event (its
people are the new canaries; ids only) — :func:`plant` flags and records,
:func:`record_planted` records rows flagged in bulk (``vigie synth``) — and
``vigie audit verify`` checks that the people flagged ``is_canary`` are exactly those
the chained events planted (:func:`vigie.audit.evidence.check_canaries`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.seals import REGISTRY, Sealing
from vigie.errors import NotFound
from vigie.fingerprint.models import CanaryContact
from vigie.processors.models import Assignment
from vigie.registry.models import Subject

DEFAULT_DENSITY = 0.003
SAMPLE_ROWS = 1000


def detection_probability(density: float, sample: int = SAMPLE_ROWS) -> float:
    """Chance that a random ``sample`` of rows holds at least one canary."""
    return 1.0 - (1.0 - density) ** sample


def minimum_density(probability: float = 0.95, sample: int = SAMPLE_ROWS) -> float:
    """Smallest density giving ``probability`` of a canary in a ``sample``-row sample."""
    return float(1.0 - (1.0 - probability) ** (1.0 / sample))


def canaries_needed(real_people: int, density: float) -> int:
    """Canaries to add to ``real_people`` so they make ``density`` of the whole."""
    if not 0.0 <= density < 1.0:
        raise ValueError("canary density must be in [0, 1)")
    return math.ceil(real_people * density / (1.0 - density))


def record_planted(
    session: Session, *, subject_ids: Iterable[int], actor: str, sealing: Sealing | None = None
) -> int:
    """Record in the trail that ``subject_ids`` (already flagged) are new canaries; return
    the event's sequence number. Nothing is recorded for an empty set (returns 0).
    ``sealing``: the registry buckets the flags changed, checked before (:func:`plant`)."""
    ids = sorted({int(i) for i in subject_ids})
    if not ids:
        return 0
    append = trail.append if sealing is None else lambda _, **event: sealing.append(**event)
    return append(
        session,
        action=Action.CANARY_PLANT,
        actor=actor,
        subject_ids=ids,
        detail={"canaries": len(ids)},
    )


def plant(session: Session, *, subject_ids: Iterable[int], actor: str) -> int:
    """Turn the synthetic people ``subject_ids`` into canaries, and record it in the trail
    (:func:`record_planted`); return the event's sequence number.

    Raises :class:`NotFound` (nothing changed) when one of them is not in the registry.
    """
    ids = sorted({int(i) for i in subject_ids})
    sealing = Sealing(session)
    if ids:
        found = set(session.scalars(select(Subject.id).where(Subject.id.in_(ids))))
        if len(found) != len(ids):
            missing = next(i for i in ids if i not in found)
            raise NotFound(f"no person with internal id {missing}: no canary planted")
        sealing.check(REGISTRY, REGISTRY.keys(ids))  # the flag is a registry column
        session.execute(update(Subject).where(Subject.id.in_(ids)).values(is_canary=True))
    return record_planted(session, subject_ids=ids, actor=actor, sealing=sealing)


def normalise_contact(value: str) -> tuple[str, str] | None:
    """``("email", lower-cased)`` or ``("phone", E.164)`` for a contact, else None.

    Phones may come in any usual format (``06 12 34 56 78``, ``0033 6...``, ``+33 (0)6...``);
    national numbers are read as French.
    """
    text = value.strip()
    if "@" in text:
        local, _, domain = text.rpartition("@")
        if local and domain and " " not in text:
            return "email", f"{local}@{domain}".lower()
        return None
    digits = text.replace("(0)", "")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    try:
        number = phonenumbers.parse(digits, "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return "phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class CanaryHit:
    """A canary reached through one of its contacts."""

    subject_id: int
    ref: str
    kind: str  # "email" or "phone"
    value: str  # the normalised contact
    processor_ids: tuple[int, ...]  # processors the canary is assigned to


def lookup_contact(session: Session, *, value: str) -> list[CanaryHit]:
    """The canaries that have (or had) ``value`` as e-mail address or phone number."""
    normal = normalise_contact(value)
    if normal is None:
        return []
    kind, text = normal
    rows = session.execute(
        select(CanaryContact.subject_id, Subject.ref)
        .join(Subject, Subject.id == CanaryContact.subject_id)
        .where(CanaryContact.kind == kind, CanaryContact.value == text, Subject.is_canary)
        .order_by(CanaryContact.subject_id)
    ).all()
    hits = []
    for subject_id, ref in dict.fromkeys(rows):
        processors = session.scalars(
            select(Assignment.processor_id)
            .where(Assignment.subject_id == subject_id)
            .distinct()
            .order_by(Assignment.processor_id)
        ).all()
        hits.append(CanaryHit(subject_id, ref, kind, text, tuple(processors)))
    return hits


def canary_ids(session: Session) -> set[int]:
    """Subject ids of every canary."""
    return set(session.scalars(select(Subject.id).where(Subject.is_canary)).all())


def contact_rows(
    subject_ids: Iterable[int], emails: Iterable[str | None], phones: Iterable[str | None]
) -> list[tuple[int, str, str]]:
    """``(subject_id, kind, value)`` rows for ``canary_contacts``, normalised, no repeats."""
    rows: dict[tuple[int, str, str], None] = {}
    for sid, email, phone in zip(subject_ids, emails, phones, strict=True):
        for raw in (email, phone):
            normal = normalise_contact(raw) if raw else None
            if normal is not None:
                rows[(int(sid), *normal)] = None
    return list(rows)
