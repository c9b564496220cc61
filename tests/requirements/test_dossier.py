"""The sanction dossier: its content, its signed manifest and proofs, checked offline."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import offline
from vigie.breach.clock import FixedClock
from vigie.breach.incidents import open_incident
from vigie.processors.directory import get_processor
from vigie.processors.keys import issue_key
from vigie.requirements.dossier_pack import Dossier, build_dossier
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from ..anchoring import sign
from .conftest import ACTOR, LATER, NOW, Invoke


@pytest.fixture
def incident(baseline: sessionmaker[Session], secrets: InstanceSecrets) -> int:
    """bad-test, with a key and no 24/7 contact, is involved in an incident after the
    deadline; the trail is anchored."""
    with baseline.begin() as s:
        issue_key(s, processor="bad-test", actor=ACTOR, now=NOW)
        bad = get_processor(s, name="bad-test")
        opened = open_incident(
            s, title="Leaked file attributed to bad-test", source="manual", aware_at=LATER,
            actor=ACTOR, processor_id=bad.id, clock=FixedClock(LATER),
        )  # fmt: skip
        number = opened.id
    sign(baseline, secrets)
    return number


def _build(
    sessions: sessionmaker[Session], settings: Settings, secrets: InstanceSecrets, out: Path,
    incident: int,
) -> Dossier:  # fmt: skip
    with sessions.begin() as s:
        return build_dossier(
            s, settings, secrets, processor="bad-test", incident_id=incident, out_dir=out,
            actor=ACTOR, now=LATER + timedelta(days=1), pdf=False,
        )  # fmt: skip


def test_the_dossier_states_the_standing_at_the_incident_and_verifies_offline(
    baseline: sessionmaker[Session], settings: Settings, secrets: InstanceSecrets,
    tmp_path: Path, incident: int,
) -> None:  # fmt: skip
    out = tmp_path / "dossier"
    built = _build(baseline, settings, secrets, out, incident)
    content = json.loads((out / "dossier.json").read_text())
    states = {r["id"]: r["phase_at_incident"] for r in content["requirements"]}
    assert states == {"key-allow-list": "overdue", "budget-ratio": "overdue",
                      "contacts": "overdue", "mfa": "overdue"}  # fmt: skip
    assert {b["id"] for b in content["breached"]} == set(states)
    assert content["keys"][0]["allowed_cidrs"] == []
    notice = (out / "mise-en-demeure.md").read_text()
    assert "Projet de mise en demeure" in notice and "Security annex §4" in notice
    assert "aucune notification de votre part" in notice
    assert len(built.cited) >= 6 and all((out / f"proofs/event-{s}.json").exists()
                                         for s in built.cited)  # fmt: skip
    key = offline.expected_key(key_file=None, expected_fingerprint=built.fingerprint,
                               candidate=out / offline.BUNDLED_KEY)  # fmt: skip
    assert "4 requirement texts match the trail" in offline.verify_dossier(out, key=key)
    script = subprocess.run(
        [sys.executable, str(out / "verify_trail.py"), "--dossier", str(out), "--fingerprint",
         built.fingerprint], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert script.returncode == 0, script.stdout + script.stderr
    assert script.stdout.startswith("OK dossier")


def _tamper_text(out: Path) -> None:
    path = out / "dossier.json"
    path.write_text(path.read_text().replace("Every API key is restricted", "Some API keys are"))


def _tamper_and_rehash(out: Path) -> None:
    _tamper_text(out)
    manifest = json.loads((out / "manifest.json").read_text())
    import hashlib

    manifest["files"]["dossier.json"] = hashlib.sha256(
        (out / "dossier.json").read_bytes()
    ).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


def _drop_proof(out: Path) -> None:
    next((out / "proofs").iterdir()).unlink()


def _add_file(out: Path) -> None:
    (out / "proofs" / "extra.json").write_text("{}")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_tamper_text, "dossier.json: SHA-256 differs from the manifest"),
        (_tamper_and_rehash, "manifest.sig: not the expected key's signature"),
        (_drop_proof, "listed in the manifest but missing"),
        (_add_file, "proofs/extra.json: not listed in the manifest"),
    ],
)
def test_any_change_to_the_dossier_fails_offline(
    baseline: sessionmaker[Session], settings: Settings, secrets: InstanceSecrets,
    tmp_path: Path, incident: int, tamper: object, message: str,
) -> None:  # fmt: skip
    out = tmp_path / "dossier"
    built = _build(baseline, settings, secrets, out, incident)
    tamper(out)  # type: ignore[operator]
    key = offline.expected_key(key_file=None, expected_fingerprint=built.fingerprint,
                               candidate=out / offline.BUNDLED_KEY)  # fmt: skip
    with pytest.raises(offline.Failure, match=message):
        offline.verify_dossier(out, key=key)


def test_dossier_command_writes_a_pdf(
    cli: Invoke, baseline: sessionmaker[Session], incident: int, tmp_path: Path
) -> None:
    out = tmp_path / "d"
    result = cli(["processors", "dossier", "bad-test", "--incident", str(incident), "--out",
                  str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "dossier.pdf").read_bytes().startswith(b"%PDF-")
    assert "--dossier" in result.output
    missing = cli(["processors", "dossier", "bad-test", "--incident", "99", "--out", str(out)])
    assert missing.exit_code == 1
