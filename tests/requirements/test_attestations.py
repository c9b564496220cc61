"""Attestations recorded by the DPO: checked whole, stored by hash, audited, expiring."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import AuditEvent
from vigie.errors import InvalidInput, NotFound
from vigie.processors.directory import get_processor
from vigie.requirements.attestations import (
    DocumentRejected,
    Submission,
    check_document,
    record_attestation,
    unreferenced_documents,
)
from vigie.requirements.models import Attestation
from vigie.requirements.standing import standings
from vigie.store.base import utcnow

from .conftest import ACTOR, NOW, PDF, Invoke


def _submit(s: Session, tmp_path: Path, **kw: object) -> Attestation:
    values: dict[str, object] = {
        "requirement": "mfa", "statement": "MFA on every account since 2026.",
        "expires_on": (NOW + timedelta(days=365)).date(), "document": PDF,
    }  # fmt: skip
    values.update(kw)
    return record_attestation(
        s, processor=get_processor(s, name="good-test"), submission=Submission(**values),  # type: ignore[arg-type]
        actor=ACTOR, store_dir=tmp_path / "store", now=NOW, require_signature=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"GIF89a....", "not a PDF"),
        (b"<html>%PDF-1.4</html>", "not a PDF"),
        (b"%PDF-" + b"x" * 100, "larger than 64 bytes"),
    ],
)
def test_the_document_must_be_a_small_pdf(data: bytes, message: str) -> None:
    with pytest.raises(DocumentRejected, match=message):
        check_document(data, max_bytes=64)


def test_an_attestation_is_stored_by_hash_and_audited_then_expires(
    baseline: sessionmaker[Session], tmp_path: Path
) -> None:
    with baseline.begin() as s:
        row = _submit(s, tmp_path, expires_on=(NOW + timedelta(days=20)).date())
        seq = row.audit_seq
    digest = hashlib.sha256(PDF).hexdigest()
    assert (tmp_path / "store" / f"{digest}.pdf").read_bytes() == PDF
    with baseline.begin() as s:
        event = s.get(AuditEvent, seq)
        assert event is not None and event.action == "attestation:submit"
        assert digest in (event.detail or "")
        soon = {(r.processor, r.requirement): r.state for r in standings(s, at=NOW)}
        later = {
            (r.processor, r.requirement): r.state for r in standings(s, at=NOW + timedelta(days=21))
        }
    assert soon[("good-test", "mfa")] == "met"
    assert soon[("bad-test", "mfa")] == "missing"
    assert later[("good-test", "mfa")] == "missing"  # expired counts as missing


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"requirement": "nope"}, NotFound, "no requirement 'nope'"),
        ({"requirement": "contacts"}, InvalidInput, "is enforced, not attested"),
        ({"expires_on": NOW.date()}, InvalidInput, "is not after today"),
        ({"statement": "  "}, InvalidInput, "statement must be printable"),
        ({"document": b"PK\x03\x04zip"}, DocumentRejected, "not a PDF"),
    ],
)
def test_bad_attestations_store_nothing(
    baseline: sessionmaker[Session],
    tmp_path: Path,
    change: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    with baseline.begin() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    with baseline.begin() as s, pytest.raises(error, match=message):
        _submit(s, tmp_path, **change)
    with baseline.begin() as s:
        assert s.scalar(select(func.count()).select_from(Attestation)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_attest_command(cli: Invoke, baseline: sessionmaker[Session], evidence: Path) -> None:
    expires = (NOW + timedelta(days=100)).date().isoformat()
    done = cli(["requirements", "attest", "bad-test", "mfa", "--file", str(evidence),
                "--expires", expires])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert hashlib.sha256(PDF).hexdigest() in done.output
    not_pdf = evidence.with_name("evidence.txt")
    not_pdf.write_text("I promise")
    refused = cli(["requirements", "attest", "bad-test", "mfa", "--file", str(not_pdf),
                   "--expires", expires])  # fmt: skip
    assert refused.exit_code == 1 and "not a PDF" in refused.output
    with baseline.begin() as s:
        assert s.scalar(select(func.count()).select_from(Attestation)) == 1


def test_audit_record_command(cli: Invoke, baseline: sessionmaker[Session], tmp_path: Path) -> None:
    findings = tmp_path / "findings.yaml"
    findings.write_text(
        "findings:\n  - text: Shared admin account\n    deadline: 2020-01-01\n"
        "  - text: No log review\n    closed: true\n"
    )
    held = (NOW - timedelta(days=3)).date().isoformat()
    done = cli(
        ["requirements", "audit-record", "bad-test", "--date", held, "--findings", str(findings)]
    )
    assert done.exit_code == 0, done.output
    assert "2 finding(s)" in done.output
    findings.write_text("findings:\n  - txt: typo\n")
    bad = cli(["requirements", "audit-record", "bad-test", "--date", "2026-01-01",
               "--findings", str(findings)])  # fmt: skip
    assert bad.exit_code == 1
    assert "findings[0].txt: Extra inputs are not permitted (line 2)" in bad.output


def test_a_file_left_by_a_failed_transaction_is_found_once_old(
    baseline: sessionmaker[Session], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    with baseline.begin() as s:
        _submit(s, tmp_path)
    other = b"%PDF-1.4 another document"
    with pytest.raises(RuntimeError), baseline.begin() as s:
        _submit(s, tmp_path, requirement="mfa", document=other)
        raise RuntimeError("the transaction fails after the file was written")
    left = store / f"{hashlib.sha256(other).hexdigest()}.pdf"
    assert left.exists()
    with baseline.begin() as s:
        assert unreferenced_documents(s, store, before=NOW) == []  # too recent: maybe in flight
        later = unreferenced_documents(s, store, before=utcnow() + timedelta(days=2))
    assert later == [left]  # the referenced document is kept
