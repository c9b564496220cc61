"""``POST /api/v1/attestations`` and campaign acknowledgements, through the real gateway app."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import AuditEvent
from vigie.gateway.app import create_app
from vigie.processors.keys import issue_key
from vigie.requirements.attestations import signed_bytes
from vigie.requirements.models import Attestation
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .conftest import ACTOR, NOW, PDF, STATEMENT_KEY

Post = Callable[..., httpx.Response]
EXPIRES = (NOW + timedelta(days=365)).date()
STATEMENT = "MFA is enforced on every account that can reach the data."


@pytest.fixture
def post(
    baseline: sessionmaker[Session], settings: Settings, engine: Engine,
    secrets: InstanceSecrets,
) -> Post:  # fmt: skip
    """POST to the gateway as the given processor's key."""
    # the listener keeps its small body bound (16 KB by default) for every other route
    small = settings.model_copy(update={"attestation_max_bytes": 100_000})
    app = create_app(small, engine=engine, secrets=secrets, clock=lambda: NOW)
    tokens = {}
    with baseline.begin() as s:
        for name in ("good-test", "bad-test"):
            tokens[name] = issue_key(s, processor=name, actor=ACTOR, now=NOW).token

    def call(url: str, *, as_: str = "good-test", **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                headers = {"Authorization": f"Bearer {tokens[as_]}"} if as_ else {}
                return await client.post(url, headers=headers, **kwargs)

        return anyio.run(go)

    return call


def _sign(processor: str = "good-test", *, requirement: str = "mfa", expires: date = EXPIRES,
          document: bytes = PDF, statement: str = STATEMENT) -> str:  # fmt: skip
    message = signed_bytes(
        processor=processor, requirement=requirement, version=1, expires_on=expires,
        document_sha256=hashlib.sha256(document).hexdigest(), statement=statement,
    )  # fmt: skip
    return STATEMENT_KEY.sign(message).hex()


def _form(**over: Any) -> dict[str, Any]:
    data = {"requirement": "mfa", "statement": STATEMENT, "expires_on": EXPIRES.isoformat(),
            "signature": _sign()}  # fmt: skip
    data.update(over)
    return data


def _files(document: bytes = PDF) -> dict[str, Any]:
    return {"document": ("evidence.pdf", document, "application/pdf")}


def test_a_signed_attestation_is_recorded(post: Post, baseline: sessionmaker[Session]) -> None:
    answer = post("/api/v1/attestations", data=_form(), files=_files())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["document_sha256"] == hashlib.sha256(PDF).hexdigest()
    with baseline.begin() as s:
        event = s.get(AuditEvent, body["audit_seq"])
        assert event is not None and event.action == "attestation:submit"
        assert event.actor.startswith("processor:good-test/key:")


def _count(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions.begin() as s:
        return (
            int(s.scalar(select(func.count()).select_from(Attestation)) or 0),
            int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0),
        )


BAD = [
    ("wrong signature", {"data": _form(signature=_sign(statement="something else"))},
     "good-test", 403, "signature does not verify"),
    ("malformed signature", {"data": _form(signature="zz")}, "good-test", 403,
     "signature does not verify"),
    ("no statement key", {"data": _form(signature=_sign("bad-test"))}, "bad-test", 403,
     "has no statement_key"),
    ("another processor", {"data": _form(processor="bad-test")}, "good-test", 403,
     "only for itself"),
    ("not a PDF", {"data": _form(signature=_sign(document=b"GIF89a")),
                   "files": _files(b"GIF89a")}, "good-test", 400, "not a PDF"),
    ("oversized", {"data": _form(), "files": _files(b"%PDF-" + b"0" * 110_000)}, "good-test",
     413, "larger than"),
    ("body past the route's bound", {"data": _form(),
                                     "files": _files(b"%PDF-" + b"0" * 200_000)},
     "good-test", 413, "must not exceed 132768 bytes"),
    ("unknown requirement", {"data": _form(requirement="nope")}, "good-test", 404,
     "no requirement 'nope'"),
    ("no key", {"data": _form()}, "", 401, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "kwargs", "as_", "status", "detail"), BAD, ids=[b[0] for b in BAD]
)
def test_bad_attestations_are_refused_and_store_nothing(
    post: Post, baseline: sessionmaker[Session], settings: Settings, case: str,
    kwargs: dict[str, Any], as_: str, status: int, detail: str,
) -> None:  # fmt: skip
    kwargs.setdefault("files", _files())
    before = _count(baseline)
    answer = post("/api/v1/attestations", as_=as_, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert detail in answer.json()["detail"]
    assert _count(baseline) == before
    store = Path(settings.data_dir) / "attestations"
    assert not store.exists() or not any(store.glob("*.pdf"))


def test_only_the_attestation_route_takes_a_document(post: Post) -> None:
    """A real evidence PDF (60 KB) is accepted while every other route keeps 16 KB."""
    document = b"%PDF-" + b"0" * 60_000
    answer = post("/api/v1/attestations", data=_form(signature=_sign(document=document)),
                  files=_files(document))  # fmt: skip
    assert answer.status_code == 201, answer.text
    other = post("/api/v1/campaigns/1/acknowledgement", content=b"x" * 60_000)
    assert other.status_code == 413
    assert "must not exceed 16384 bytes" in other.json()["detail"]


def test_a_provider_acknowledges_a_campaign(post: Post, baseline: sessionmaker[Session]) -> None:
    from vigie.requirements.campaigns import progress, start_campaign
    from vigie.requirements.spec import parse_requirements

    from .conftest import REQUIREMENTS_YAML

    raised = REQUIREMENTS_YAML.replace("id: mfa\n    version: 1", "id: mfa\n    version: 2")
    with baseline.begin() as s:
        started = start_campaign(s, parsed=parse_requirements(raised), actor=ACTOR, now=NOW)
    url = f"/api/v1/campaigns/{started.campaign_id}/acknowledgement"
    answer = post(url)
    assert answer.status_code == 200, answer.text
    assert post("/api/v1/campaigns/99/acknowledgement").status_code == 404
    with baseline.begin() as s:
        rows = {r.processor: r for r in progress(s, campaign_id=started.campaign_id or 0, at=NOW)}
    assert rows["good-test"].acknowledged_at is not None
    assert rows["bad-test"].acknowledged_at is None
