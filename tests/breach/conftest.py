"""Fixtures of the breach tests: a processor and a few synthetic people in the registry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.serving import free_port
from vigie.audit.seals import reseal
from vigie.breach.clock import FixedClock
from vigie.breach.fonts import PreparedFonts, prepare
from vigie.processors.apply import record_created
from vigie.processors.models import Processor
from vigie.registry.models import Subject
from vigie.registry.population import declare_population, load_population
from vigie.secrets import InstanceSecrets
from vigie.synth.load import POPULATION

from ..anchoring import sign

T0 = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)

# (language, given name, family name, e-mail, phone) — synthetic people only.
PEOPLE = [
    ("fr", "Awa", "Diallo", "awa.diallo@example.org", "+33612345601"),
    ("en", "Grace", "Mensah", "grace.mensah@example.org", "+33612345602"),
    ("uk", "Олена", "Коваль", "olena.koval@example.org", "+33612345603"),
    ("ru", "Иван", "Петров", "ivan.petrov@example.org", None),
    ("ar", "ليلى", "حداد", "layla.haddad@example.org", "+33612345605"),
    ("fa-AF", "Farid", "Ahmadi", None, "+33612345606"),
    ("ps", "Gul", "Khan", "gul.khan@example.org", "+33612345607"),
    ("zh", "Wei", "Zhang", "wei.zhang@example.org", "+33612345608"),
    ("he", "Noa", "Levi", "noa.levi@example.org", "+33612345609"),
    ("es", "Lucía", "García", "lucia.garcia@example.org", "+33612345610"),
    ("pt", "João", "Silva", "joao.silva@example.org", "+33612345611"),
    ("tr", "Elif", "Yılmaz", "elif.yilmaz@example.org", "+33612345612"),
    ("sw", "Amani", "Okello", "amani.okello@example.org", None),
    ("fr", "Nadia", "Benali", None, None),
]


def make_subject(
    i: int, lang: str, given: str, family: str, email: str | None, phone: str | None
) -> Subject:
    return Subject(
        ref=f"CIR-2025-{i:06d}",
        given_name=given,
        family_name=family,
        birth_date=date(1990, 1, 1 + i % 28),
        sex="F" if i % 2 else "M",
        birth_country="AFG",
        nationality="AFG",
        preferred_language=lang,
        email=email,
        phone=phone,
        address_line=f"{i} rue de l'Exemple",
        postal_code="75011",
        city="Paris",
        region="11",
        entry_date=date(2024, 3, 1),
        residence_reason="asylum",
        residence_status="refugee",
        cir_signed_on=date(2024, 6, 1),
        course_hours=200,
        course_level="A1",
        valid_from=T0,
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def processor_id(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as s:
        p = Processor(
            name="lingua",
            legal_name="Lingua Formation SAS",
            siren="123456789",
            contact_email="dpo@lingua.example",
            security_officer="RSSI Lingua",
            region="11",
        )
        s.add(p)
        s.flush()
        record_created(s, p, actor="operator:test")
        return p.id


@pytest.fixture
def subject_ids(sessions: sessionmaker[Session], secrets: InstanceSecrets) -> list[int]:
    """The people of :data:`PEOPLE`, in a registry that declares the synthetic CIR
    registry's population context (as `vigie synth` does), the trail anchored (as the
    command would have left it)."""
    with sessions.begin() as s:
        rows = [make_subject(i, *p) for i, p in enumerate(PEOPLE, start=1)]
        s.add_all(rows)
        s.flush()
        reseal(s, actor="operator:test")  # written directly: sealed as they are
        declare_population(s, context=load_population(POPULATION), actor="operator:test")
        ids = [r.id for r in rows]
    sign(sessions, secrets)
    return ids


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions.begin() as s:
        yield s


@pytest.fixture(scope="session")
def prepared_fonts(tmp_path_factory: pytest.TempPathFactory) -> PreparedFonts:
    """The letter fonts, subset once for the whole run."""
    return prepare(tmp_path_factory.mktemp("fonts"))


class Sink:
    """An SMTP server on loopback that keeps every message it accepts."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []  # (message-id, rcpts, data)
        self.refuse = refuse
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        mid = ""
        for line in data.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                mid = line.split(b":", 1)[1].strip().decode()
                break
        with self.lock:
            self.messages.append((mid, list(envelope.rcpt_tos), data))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    """A real SMTP server on a free loopback port; refuses mail to bounce@example.org."""
    sink = Sink(refuse=frozenset({"bounce@example.org"}))
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()
