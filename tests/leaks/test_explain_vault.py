"""Explanations stored apart, in sealed blocks: one row read back without the report."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from vigie.errors import IntegrityError
from vigie.leaks import explain_vault, vault
from vigie.leaks.analyze import analyze
from vigie.leaks.explain_vault import explanation_of, load_explanation, rewrap_explanations
from vigie.leaks.models import ExplanationBlock, StoredAnalysis
from vigie.leaks.vault import load_report, purge, store_report
from vigie.secrets import InstanceSecrets, ensure_secrets, load_secrets
from vigie.settings import Settings
from vigie.store.base import utcnow

from .conftest import World
from .helpers import write_csv
from .test_explain import _rows


def _stored(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[int, list[dict[str, object]]]:
    """An analysis of two files (the same lines in both) with --explain, stored in blocks
    of 3 rows: blocks straddle the two files."""
    rows, _truth = _rows(world)
    header = ["prenom", "nom", "courriel", "date_naissance"]
    a = write_csv(leak_dir / "a.csv", header, rows[:12])
    b = write_csv(leak_dir / "b.csv", header, rows[12:])
    report = analyze(engine, paths=[a, b], secrets=secrets, settings=settings, explain=True)
    monkeypatch.setattr(explain_vault, "BLOCK_ROWS", 3)
    with sessions.begin() as session:
        stored = store_report(session, report=report, secrets=secrets, settings=settings,
                              actor="operator:test")  # fmt: skip
    return stored, json.loads(json.dumps(list(report.explanations)))  # as JSON has them


def test_each_row_is_read_back_from_its_block_alone(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored, explained = _stored(world, engine, sessions, settings, secrets, leak_dir, monkeypatch)
    assert len(explained) == 20
    opened: list[int] = []
    real_open = explain_vault._open

    def counting(row: ExplanationBlock, *args: object, **kwargs: object) -> bytes:
        opened.append(row.seq)
        return real_open(row, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(explain_vault, "_open", counting)
    with sessions() as session:
        analysis = session.get(StoredAnalysis, stored)
        assert analysis is not None
        blocks = session.scalar(select(func.count()).where(ExplanationBlock.analysis_id == stored))
        assert blocks == 1 + 7  # the head, then 20 rows in blocks of 3
        # The stored report no longer carries them: explain never has to open it.
        assert load_report(session, analysis_id=stored, secrets=secrets)["explanations"] == []
        for entry in explained:
            opened.clear()
            got = load_explanation(
                session, analysis=analysis, row=f"{entry['file']}:{entry['line']}", secrets=secrets
            )
            assert got is not None and got.entry == entry
            assert got.registry_size > 0 and got.match_threshold > 0
            assert len(opened) == 2 and opened[0] == 0  # the head and one block
        with pytest.raises(LookupError, match="several files"):
            load_explanation(session, analysis=analysis, row="2", secrets=secrets)
        with pytest.raises(LookupError, match="was not linked"):
            load_explanation(session, analysis=analysis, row="a.csv:99", secrets=secrets)
        with pytest.raises(LookupError, match="not a row"):
            load_explanation(session, analysis=analysis, row="a.csv:two", secrets=secrets)
        only_a = explanation_of(session, analysis_id=stored, row="13", secrets=secrets)
        assert only_a.entry["file"] == "a.csv"  # b.csv ends at line 9


def test_a_block_given_another_range_does_not_open(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored, _explained = _stored(world, engine, sessions, settings, secrets, leak_dir, monkeypatch)
    with sessions.begin() as session:
        session.execute(
            update(ExplanationBlock)
            .where(ExplanationBlock.analysis_id == stored, ExplanationBlock.seq == 1)
            .values(last_line=ExplanationBlock.last_line + 1)
        )
    with sessions() as session, pytest.raises(IntegrityError, match="does not decrypt"):
        explanation_of(session, analysis_id=stored, row="a.csv:2", secrets=secrets)


def test_blocks_are_purged_and_rewrapped_with_their_report(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored, explained = _stored(world, engine, sessions, settings, secrets, leak_dir, monkeypatch)
    ensure_secrets(tmp_path / "other")
    other = load_secrets(tmp_path / "other")
    row = f"{explained[4]['file']}:{explained[4]['line']}"
    with sessions.begin() as session:
        assert rewrap_explanations(session, old=secrets, new=other) == 8
    with sessions() as session:
        assert (
            explanation_of(session, analysis_id=stored, row=row, secrets=other).entry
            == (explained[4])
        )
        with pytest.raises(IntegrityError):
            explanation_of(session, analysis_id=stored, row=row, secrets=secrets)
    with sessions.begin() as session:
        later = utcnow() + timedelta(days=settings.leak_retention_days + 1)
        assert purge(session, actor="operator:test", now=later) == 1
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ExplanationBlock)) == 0


def test_an_analysis_without_explain_says_so(
    world: World,
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    secrets: InstanceSecrets,
    leak_dir: Path,
) -> None:
    rows, _truth = _rows(world)
    path = write_csv(leak_dir / "x.csv", ["prenom", "nom", "courriel"], [r[:3] for r in rows])
    report = analyze(engine, paths=[path], secrets=secrets, settings=settings)
    with sessions.begin() as session:
        stored = store_report(session, report=report, secrets=secrets, settings=settings,
                              actor="operator:test")  # fmt: skip
    with sessions() as session, pytest.raises(LookupError, match="made without --explain"):
        explanation_of(session, analysis_id=stored, row="2", secrets=secrets)


def test_a_report_stored_with_its_explanations_inside_is_still_explained(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    """Reports stored before the blocks carry their explanations in the report itself."""
    entry = {"file": "x.csv", "line": 2, "ref": "REF-1", "score": 20.0, "confidence": 0.99,
             "terms": [["email_n", 24.0], ["birth_date", -4.0]]}  # fmt: skip
    plain = json.dumps(
        {"registry_size": 1000, "match_threshold": 0.99, "explanations": [entry]}
    ).encode()
    now = utcnow()
    with sessions.begin() as session:
        row = StoredAnalysis(
            created_at=now, purge_after=now + timedelta(days=90), actor="operator:test",
            files=1, rows=1, matched_rows=1, affected_subjects=1, verdict="authentic",
            nonce=os.urandom(12), ciphertext=b"",
        )  # fmt: skip
        session.add(row)
        session.flush()
        key = AESGCM(secrets.derive(vault.PURPOSE))
        row.ciphertext = key.encrypt(row.nonce, plain, vault._aad(row))
        stored = row.id
    with sessions() as session:
        got = explanation_of(session, analysis_id=stored, row="x.csv:2", secrets=secrets)
        assert (got.entry, got.registry_size, got.match_threshold) == (entry, 1000, 0.99)
        with pytest.raises(LookupError, match="was not linked"):
            explanation_of(session, analysis_id=stored, row="3", secrets=secrets)
