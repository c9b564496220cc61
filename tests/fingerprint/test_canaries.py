"""Canaries: density arithmetic, contact normalisation and look-up, on both databases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.fingerprint.canaries import (
    DEFAULT_DENSITY,
    canaries_needed,
    canary_ids,
    detection_probability,
    lookup_contact,
    minimum_density,
    normalise_contact,
)
from vigie.fingerprint.models import CanaryContact
from vigie.processors.models import Assignment
from vigie.registry.models import Subject
from vigie.synth.load import synthesize


def test_default_density_meets_the_sampling_target():
    assert minimum_density() == pytest.approx(0.002991, abs=1e-6)
    assert minimum_density() <= DEFAULT_DENSITY
    assert detection_probability(DEFAULT_DENSITY) >= 0.95
    assert detection_probability(0.002) < 0.95


@given(real=st.integers(0, 5_000_000), density=st.floats(0.0001, 0.2))
def test_planted_canaries_reach_the_density(real, density):
    c = canaries_needed(real, density)
    if real:
        assert c / (real + c) >= density - 1e-12
        assert (c - 1) / (real + c - 1) < density + 1e-9 or c == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Olena.S@Mail.Example", ("email", "olena.s@mail.example")),
        ("  someone@example.org ", ("email", "someone@example.org")),
        ("+33612345678", ("phone", "+33612345678")),
        ("06 12 34 56 78", ("phone", "+33612345678")),
        ("06.12.34.56.78", ("phone", "+33612345678")),
        ("0033 6 12 34 56 78", ("phone", "+33612345678")),
        ("+33 (0)6 12 34 56 78", ("phone", "+33612345678")),
        ("+33 6-12-34-56-78", ("phone", "+33612345678")),
        ("not a contact", None),
        ("@", None),
        ("12", None),
    ],
)
def test_contacts_are_normalised(raw, expected):
    assert normalise_contact(raw) == expected


@pytest.fixture
def planted(engine):
    return synthesize(engine, people=600, seed=21, canary_density=0.02)


def test_lookup_finds_a_canary_by_any_format_of_its_contacts(planted, sessions):
    with sessions() as s:
        canaries = canary_ids(s)
        assert len(canaries) == planted.canaries > 0
        real = s.scalars(select(Subject.id).where(Subject.is_canary.is_(False))).all()
        assert not canaries & set(real)
        row = s.execute(
            select(CanaryContact.subject_id, CanaryContact.value).where(
                CanaryContact.kind == "phone"
            )
        ).first()
        sid, phone = row
        national = "0" + phone[3:]
        spaced = " ".join(national[i : i + 2] for i in range(0, 10, 2))
        for form in (phone, national, spaced, "0033" + phone[3:]):
            hits = lookup_contact(s, value=form)
            assert [h.subject_id for h in hits] == [sid]
        assigned = set(
            s.scalars(select(Assignment.processor_id).where(Assignment.subject_id == sid))
        )
        assert set(hits[0].processor_ids) == assigned and len(assigned) == 3
        email_sid, email = s.execute(
            select(CanaryContact.subject_id, CanaryContact.value).where(
                CanaryContact.kind == "email"
            )
        ).first()
        assert [h.subject_id for h in lookup_contact(s, value=email.upper())] == [email_sid]
        assert hits[0].ref == s.scalar(select(Subject.ref).where(Subject.id == sid))


def test_real_peoples_contacts_are_not_canaries(planted, sessions):
    with sessions() as s:
        person = s.scalars(
            select(Subject).where(Subject.is_canary.is_(False), Subject.email.is_not(None))
        ).first()
        assert lookup_contact(s, value=person.email) == []
        assert lookup_contact(s, value=person.phone or "+33600000000") == []
        assert lookup_contact(s, value="nonsense") == []


def test_every_canary_contact_is_recorded(planted, sessions):
    with sessions() as s:
        current = s.execute(
            select(Subject.id, Subject.email, Subject.phone).where(Subject.is_canary)
        ).all()
        recorded = set(s.execute(select(CanaryContact.subject_id, CanaryContact.value)).all())
    for sid, email, phone in current:
        for value in (email, phone):
            if value:
                assert (sid, value.lower()) in recorded


def test_planting_an_unknown_person_changes_nothing(sessions: sessionmaker[Session]) -> None:
    from vigie.audit.models import AuditEvent
    from vigie.errors import NotFound
    from vigie.fingerprint.canaries import plant

    with sessions.begin() as s, pytest.raises(NotFound, match="internal id 9"):
        plant(s, subject_ids=[9], actor="operator:test")
    with sessions() as s:
        assert s.scalars(select(AuditEvent)).all() == []
