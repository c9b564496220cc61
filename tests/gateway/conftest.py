"""Fixtures of the gateway tests: a small world of people, processors, contracts, keys.

``world`` builds rows through the real models and the processors domain's ``issue_key``;
``World.api`` talks to the real app through httpx's ASGI transport (in-process HTTP).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.people import sealed
from vigie.audit.actions import Action
from vigie.audit.seals import ASSIGNMENTS, REGISTRY
from vigie.gateway.app import create_app
from vigie.gateway.observe import AccessObserver
from vigie.processors.apply import record_created
from vigie.processors.counts import recount
from vigie.processors.keys import issue_key
from vigie.processors.models import Assignment, Contract, Processor
from vigie.registry.models import Subject
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

TODAY = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GIVEN = ("Amina", "Tarek", "Olena", "Jean-Luc", "Marie Claire", "Yusuf", "Li", "Ana")
FAMILY = ("Diallo", "Haddad", "Kovalenko", "Martin", "Nguyen", "Silva", "Okafor", "Zhang")


def subject_values(i: int) -> dict[str, Any]:
    """A synthetic person (reserved example domains, invented numbers)."""
    return {
        "ref": f"CIR{i:08d}",
        "given_name": GIVEN[i % len(GIVEN)],
        "family_name": FAMILY[(i // 3) % len(FAMILY)],
        "given_name_native": None,
        "family_name_native": None,
        "birth_date": date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
        "sex": "FMX"[i % 3],
        "birth_country": "MLI",
        "nationality": "MLI",
        "preferred_language": "fr",
        "email": f"person{i}@mail.example" if i % 5 else None,
        "phone": f"+3361234{i % 10000:04d}",
        "address_line": f"{i} rue de l'Exemple",
        "postal_code": f"{75001 + i % 20:05d}" if i % 7 else "97110",
        "city": "Paris",
        "region": "11",
        "entry_date": date(2020, 1 + i % 12, 1 + i % 28),
        "residence_reason": "family",
        "residence_status": "titre de séjour",
        "cir_signed_on": date(2024, 1 + i % 12, 1 + i % 28),
        "course_hours": 100 + i % 500,
        "course_level": "A1",
    }


class Api:
    """Synchronous calls into the ASGI app over httpx's in-process transport."""

    def __init__(self, app: FastAPI, *, client_ip: str = "192.0.2.10") -> None:
        self.app = app
        self.client_ip = client_ip

    def request(
        self, method: str, url: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(self.client_ip, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                return await client.request(method, url, headers=headers, **kwargs)

        return anyio.run(go)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


@dataclass
class World:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    secrets: InstanceSecrets
    now: datetime = NOON
    _next_subject: int = 1
    contracts: dict[str, int] = field(default_factory=dict)

    def clock(self) -> datetime:
        return self.now

    def people(self, n: int) -> list[int]:
        ids = list(range(self._next_subject, self._next_subject + n))
        self._next_subject += n
        with self.sessions.begin() as s, sealed(s, REGISTRY, ids, action=Action.SUBJECT_IMPORT):
            s.add_all(Subject(id=i, valid_from=NOON, **subject_values(i)) for i in ids)
        return ids

    def processor(
        self,
        name: str,
        *,
        read_fields: Iterable[str] = ("pseudonym", "given_name", "birth_date"),
        masks: dict[str, str] | None = None,
        write_fields: Iterable[str] = ("attendance_hours", "course_completed"),
        per_day: int = 1000,
        per_30_days: int = 10_000,
        rate_per_minute: int = 10_000,
        contract: str = "main",
        purpose: str = "language-training",
        valid_from: date = date(2024, 1, 1),
        valid_to: date | None = None,
    ) -> int:
        """Create (or reuse) processor ``name`` with one more contract; return the contract id."""
        with self.sessions.begin() as s:
            proc = s.query(Processor).filter_by(name=name).one_or_none()
            if proc is None:
                proc = Processor(
                    name=name,
                    legal_name=f"{name} SAS (fictitious)",
                    siren="732100003",
                    contact_email=f"dpo@{name}.example",
                    security_officer="Claire Martin",
                )
                s.add(proc)
                s.flush()
                record_created(s, proc, actor="operator:test")
            c = Contract(
                processor_id=proc.id,
                name=contract,
                purpose=purpose,
                legal_basis="GDPR Art. 6(1)(e)",
                reference=f"REF-{name}-{contract}",
                valid_from=valid_from,
                valid_to=valid_to,
                read_fields=list(read_fields),
                masks=dict(masks or {}),
                write_fields=list(write_fields),
                budget_per_day=per_day,
                budget_per_30_days=per_30_days,
                expected_per_day=None,
                rate_per_minute=rate_per_minute,
                extra={},
            )
            s.add(c)
            s.flush()
            self.contracts[f"{name}/{contract}"] = c.id
            return c.id

    def processor_id(self, name: str) -> int:
        with self.sessions() as s:
            return s.query(Processor).filter_by(name=name).one().id

    def assign(
        self,
        contract_id: int,
        subject_ids: Sequence[int],
        *,
        starts_on: date = date(2025, 1, 1),
        ends_on: date | None = None,
    ) -> None:
        with self.sessions.begin() as s:
            processor_id = s.get(Contract, contract_id).processor_id  # type: ignore[union-attr]
            with sealed(s, ASSIGNMENTS, subject_ids, action=Action.ASSIGNMENT_CHANGE):
                s.add_all(
                    Assignment(
                        contract_id=contract_id,
                        processor_id=processor_id,
                        subject_id=sid,
                        starts_on=starts_on,
                        ends_on=ends_on,
                    )
                    for sid in subject_ids
                )
            recount(s, processor_id=processor_id)  # as the import path does

    def key(self, processor: str, **kwargs: Any) -> str:
        with self.sessions.begin() as s:
            return issue_key(
                s, processor=processor, actor="operator:test", now=self.now, **kwargs
            ).token

    def app(self, *, observers: Sequence[AccessObserver] = (), **kwargs: Any) -> FastAPI:
        return create_app(
            self.settings,
            engine=self.engine,
            secrets=self.secrets,
            observers=observers,
            clock=self.clock,
            **kwargs,
        )

    def api(self, *, client_ip: str = "192.0.2.10", **kwargs: Any) -> Api:
        return Api(self.app(**kwargs), client_ip=client_ip)

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def world(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> World:
    return World(settings=settings, engine=engine, sessions=sessions, secrets=secrets)
