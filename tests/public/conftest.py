"""Fixtures of the public service's tests: an incident whose notices were sent, the public
app in-process (httpx's ASGI transport), and a real SMTP sink on loopback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.anchoring import sign
from tests.breach.conftest import (  # noqa: F401 - fixtures shared with the breach tests
    PEOPLE,
    Sink,
    clock,
    processor_id,
    smtp_sink,
    subject_ids,
)
from tests.gateway.serving import free_port
from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.anchors import Bound
from vigie.breach import channels as ch
from vigie.breach import incidents
from vigie.breach.assessment import assess_incident
from vigie.breach.clock import FixedClock
from vigie.breach.codes import code_key, make_code
from vigie.breach.models import Incident
from vigie.breach.notify import context_for, send_notices
from vigie.jobs.worker import Worker
from vigie.processors.models import Contract, Processor
from vigie.public.app import create_app
from vigie.public.limiter import Limiter
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

T = TypeVar("T")
ACTOR = "operator:test"
FIELDS = ["given_name", "family_name", "email", "nationality", "residence_status"]
AFFECTED = 10  # the first ten people of PEOPLE were exposed; the others are on file only


@dataclass
class Public:
    """An instance whose incident's notices were sent, and its public app."""

    settings: Settings
    sessions: sessionmaker[Session]
    secrets: InstanceSecrets
    engine: Engine
    incident_id: int
    subject_ids: list[int]
    sink: Sink
    limiter: Limiter
    app: object

    def code(self, subject_index: int) -> str:
        """The genuine code of person ``subject_index``'s notice."""
        key = code_key(self.secrets)
        return make_code(
            key, incident_id=self.incident_id, subject_id=self.subject_ids[subject_index]
        )

    def person(self, index: int) -> Subject:
        with self.sessions() as s:
            got = s.scalar(select(Subject).where(Subject.id == self.subject_ids[index]))
            assert got is not None
            return got

    def client(self, address: str = "192.0.2.10") -> httpx.Client:
        transport = httpx.ASGITransport(app=self.app, client=(address, 50000))  # type: ignore[arg-type]
        return _SyncClient(transport)

    def drain(self) -> None:
        """Answer every queued self-check and report request, as ``vigie worker`` would."""
        worker = Worker(settings=self.settings, secrets=self.secrets, engine=self.engine)
        try:
            worker.run(once=True)
        finally:
            worker.close()


def in_own_loop(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` in an event loop of its own thread (the browser tests' Playwright keeps
    one running in the main thread)."""
    import anyio

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, work).result()


class _SyncClient(httpx.Client):
    """A sync client over an ASGI app (each call runs the app in a fresh event loop)."""

    def __init__(self, transport: httpx.ASGITransport) -> None:
        self._asgi = transport
        super().__init__(base_url="http://public.test")

    def send(self, request: httpx.Request, **kwargs: object) -> httpx.Response:  # type: ignore[override]
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=self._asgi, base_url="http://public.test") as c:
                response = await c.send(request)
                await response.aread()
                return response

        response = in_own_loop(go)
        self.cookies.extract_cookies(response)
        return response


def open_incident(sessions: sessionmaker[Session], ids: list[int], at: FixedClock) -> int:
    with sessions.begin() as s:
        inc = incidents.open_incident(
            s, title="leak", source="leak", aware_at=at.now(), actor=ACTOR, clock=at
        )
        incidents.record_exposure(
            s, incident_id=inc.id, exposures={sid: FIELDS for sid in ids}, actor=ACTOR
        )
        assess_incident(s, incident_id=inc.id, actor=ACTOR, malicious=True)
        return inc.id


@pytest.fixture
def public(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    subject_ids: list[int],  # noqa: F811
    clock: FixedClock,  # noqa: F811
    smtp_sink: tuple[Sink, int],  # noqa: F811
    tmp_path: Path,
) -> Iterator[Public]:
    sink, port = smtp_sink
    settings = settings.model_copy(
        update={
            "smtp_port": port,
            "public_rate_per_address": "1000/minute",
            "public_rate_global": "1000/second",
        }
    )
    incident_id = open_incident(sessions, subject_ids[:AFFECTED], clock)
    with sessions() as s:
        context = context_for(settings, s, incident_id=incident_id)
    chans = ch.from_settings(settings, names=("email", "sms"), incident_id=incident_id)
    send_notices(
        sessions,
        incident_id=incident_id,
        context=context,
        channels=chans,
        secrets=secrets,
        lock_dir=tmp_path / "locks",
        actor=ACTOR,
        clock=clock,
        bound=Bound.of(settings),
    )
    sink.messages.clear()
    limiter = Limiter.from_settings(settings)
    app = create_app(settings, engine=engine, secrets=secrets, limiter=limiter)
    world = Public(
        settings, sessions, secrets, engine, incident_id, subject_ids, sink, limiter, app
    )
    yield world


# --- who saw my file: disclosures in the trail ------------------------------------------

DAY1 = datetime(2026, 2, 3, 9, 30, tzinfo=UTC)
DAY2 = datetime(2026, 2, 5, 16, 0, tzinfo=UTC)


def _processor(public: Public, name: str, purpose: str) -> int:
    with public.sessions.begin() as s:
        p = Processor(
            name=name,
            legal_name=f"{name.title()} SAS (fictitious)",
            siren="732100003",
            contact_email=f"dpo@{name}.example",
            security_officer="RSSI",
        )
        s.add(p)
        s.flush()
        s.add(
            Contract(
                processor_id=p.id,
                name="main",
                purpose=purpose,
                legal_basis="GDPR Art. 6(1)(e)",
                reference=f"REF-{name}",
                valid_from=date(2025, 1, 1),
                valid_to=None,
                read_fields=["given_name", "family_name", "email", "nationality"],
                masks={},
                write_fields=[],
                budget_per_day=100,
                budget_per_30_days=1000,
                expected_per_day=None,
                rate_per_minute=60,
                extra={},
            )
        )
        return p.id


@pytest.fixture
def disclosed(public: Public) -> dict[str, int]:
    """Grace read twice on one day by one processor, listed by another two days later."""
    lingua = _processor(public, "lingua", "language-training")
    civic = _processor(public, "civic", "civic-training")
    grace, other = public.subject_ids[1], public.subject_ids[2]
    with public.sessions.begin() as s:
        for at in (DAY1, DAY1 + timedelta(hours=2)):
            trail.append(
                s,
                action=Action.SUBJECT_READ,
                actor="processor:lingua/key:1",
                processor_id=lingua,
                purpose="language-training",
                subject_ids=[grace],
                fields=["email", "family_name", "given_name"],
                at=at,
            )
        trail.append(
            s,
            action=Action.SUBJECT_LIST,
            actor="processor:civic/key:2",
            processor_id=civic,
            purpose="civic-training",
            subject_ids=[grace, other],
            fields=["given_name", "nationality"],
            at=DAY2,
        )
        trail.append(  # a refused read discloses nothing
            s,
            action=Action.SUBJECT_READ,
            actor="processor:civic/key:2",
            processor_id=civic,
            purpose="civic-training",
            subject_ids=[grace],
            fields=["email"],
            outcome="denied",
            at=DAY2,
        )
        s.execute(
            update(Incident).where(Incident.id == public.incident_id).values(processor_id=civic)
        )
    sign(public.sessions, public.secrets)
    return {"lingua": lingua, "civic": civic}


def trail_days(public: Public, subject_id: int) -> set[tuple[date, int]]:
    """(day, processor) of every disclosure of the person, read from the events themselves."""
    from vigie.audit.canonical import decode_subjects
    from vigie.audit.models import AuditEvent

    out = set()
    with public.sessions() as s:
        for e in s.scalars(select(AuditEvent).where(AuditEvent.processor_id.is_not(None))):
            if e.outcome != "ok" or e.action not in ("subject:read", "subject:list"):
                continue
            if subject_id in decode_subjects(bytes(e.subjects)) and e.processor_id is not None:
                day = datetime.fromtimestamp(e.at_us / 1e6, tz=UTC).date()
                out.add((day, e.processor_id))
    return out


# --- browser tests: the suite's harness (tests/browser.py) drives Debian's Chromium --------


@pytest.fixture
def served(public: Public) -> Iterator[str]:
    """The public app on a real loopback HTTP server (uvicorn, in a thread); its base URL."""
    import threading
    import time

    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        public.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",  # type: ignore[arg-type]
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the public app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
