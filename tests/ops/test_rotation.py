"""`vigie secrets rotate`: every old proof, code and attribution still verifies after it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from vigie.audit import offline
from vigie.audit.checkpoints import fingerprint, take
from vigie.audit.export import export_trail
from vigie.audit.keyring import KeyHistory
from vigie.audit.models import AuditCheckpoint, AuditEvent, to_us
from vigie.audit.verify import verify_trail
from vigie.breach.authority import prepare_pack
from vigie.breach.codes import code_key, make_code, verify_code
from vigie.detection.notify import SIGNATURE_HEADER, WebhookNotifier, check_signature
from vigie.errors import Denied, IntegrityError
from vigie.fingerprint.pseudonyms import Pseudonymiser, identify
from vigie.fingerprint.trips import webhook_token
from vigie.leaks.linking import decode_pseudonyms
from vigie.ops import rotation
from vigie.ops.webhooks import PURPOSES, active_keys
from vigie.requirements.dossier_pack import build_dossier
from vigie.secrets import KEY_VERSIONS, SIGNING_KEY, load_secrets
from vigie.store.base import utcnow

from ..anchoring import sign
from ..cli.conftest import Invoke
from ..console.incident_world import make_incident
from ..gateway.conftest import World

SUBJECTS = "/api/v1/subjects"
MAPPING = "/api/v1/pseudonyms/rotation"


def _events(world: World, action: str) -> list[AuditEvent]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _reloaded(world: World) -> World:
    """The world as a process started after the rotation sees it."""
    return dataclasses.replace(world, secrets=load_secrets(world.settings.resolved_secrets_dir))


def _served(world: World, n: int = 5) -> tuple[list[int], str]:
    """``n`` people, a processor with four of them, a key that read them all."""
    ids = world.people(n)
    world.assign(world.processor("lingua"), ids[:4])
    token = world.key("lingua")
    r = world.api().get(SUBJECTS, token=token)
    assert r.status_code == 200, r.text
    return ids, token


# -- audit-signing ---------------------------------------------------------------------------


def test_old_checkpoints_verify_with_the_old_key_after_rotation(
    world: World, cli: Invoke, tmp_path: Path
) -> None:
    _served(world)
    sign(world.sessions, world.secrets)
    old = fingerprint(world.secrets.verify_key)
    result = cli(["secrets", "rotate", "audit-signing", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["old"] == old and facts["new"] != old
    after = _reloaded(world)
    assert fingerprint(after.secrets.verify_key) == facts["new"]
    assert after.secrets.audit_keys.fingerprints == [old, facts["new"]]
    with world.sessions() as s:
        signers = [cp.key_fingerprint for cp in s.scalars(select(AuditCheckpoint))]
    assert old in signers and facts["new"] in signers
    [event] = _events(world, "audit:key-rotate")
    detail = json.loads(event.detail or "{}")
    assert (detail["old"], detail["new"]) == (old, facts["new"])

    # The whole trail verifies with the history; not with the new key alone.
    report = verify_trail(world.engine, public_key=after.secrets.audit_keys)
    assert report.checkpoints == len(signers)
    with pytest.raises(IntegrityError, match="signed by another key"):
        verify_trail(world.engine, public_key=after.secrets.verify_key)
    assert cli(["audit", "verify"]).exit_code == 0
    card = json.loads(cli(["audit", "key", "--json"]).output)
    assert (card["fingerprint"], card["retired_fingerprints"]) == (facts["new"], [old])

    # An export carries the history: the standalone verifier accepts either fingerprint.
    out = tmp_path / "export"
    export_trail(
        world.engine, world.sessions, out=out, secrets=after.secrets, actor="operator:test"
    )
    for trusted in (old, facts["new"]):
        script = str(out / "verify_trail.py")
        run = subprocess.run(
            [sys.executable, "-I", script, str(out), "--fingerprint", trusted],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert "signed by 2 keys in turn" in run.stdout
    # A rotation record altered in the export fails, naming it.
    history = json.loads((out / offline.KEY_HISTORY).read_text())
    history["rotations"][0]["old_signature"] = "00" * 64
    (out / offline.KEY_HISTORY).write_text(json.dumps(history))
    with pytest.raises(offline.Failure, match="rotation 1: old_signature"):
        offline.verify_export(out, key=after.secrets.verify_key)


def test_a_retired_key_cannot_sign_again(world: World, cli: Invoke) -> None:
    _served(world)
    sign(world.sessions, world.secrets)
    stale = world.secrets  # a server started before the rotation
    assert cli(["secrets", "rotate", "audit-signing"]).exit_code == 0
    with pytest.raises(IntegrityError, match="the key was rotated"), world.sessions.begin() as s:
        take(s, signing_key=stale.signing_key, actor="system:audit")
    # Its checkpoint, forged later with the retired key, falls outside its period.
    history = _reloaded(world).secrets.audit_keys
    later = to_us(utcnow() + timedelta(days=1))
    with pytest.raises(IntegrityError, match="outside its period"):
        history.key_of(fingerprint=fingerprint(stale.verify_key), at_us=later, name="x")


def test_a_failed_audit_key_rotation_changes_nothing(world: World) -> None:
    _served(world)
    sign(world.sessions, world.secrets)
    directory = world.settings.resolved_secrets_dir
    before = (directory / SIGNING_KEY).read_bytes()
    (directory / (SIGNING_KEY + ".new")).mkdir()  # writing the new private key fails
    with pytest.raises(OSError):
        rotation.rotate_audit_key(
            world.sessions, directory=directory, secrets=world.secrets, actor="operator:test"
        )
    assert (directory / SIGNING_KEY).read_bytes() == before
    assert not (directory / offline.KEY_HISTORY).exists()
    assert _events(world, "audit:key-rotate") == []
    again = load_secrets(directory)
    assert again.audit_keys.fingerprints == [fingerprint(world.secrets.verify_key)]
    verify_trail(world.engine, public_key=again.audit_keys)


def test_key_history_refuses_a_chain_that_does_not_link(world: World) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    one, two, three = (Ed25519PrivateKey.generate() for _ in range(3))
    history, _ = KeyHistory.single(one.public_key()).rotated(old=one, new=two, at_us=10)
    longer, _ = history.rotated(old=two, new=three, at_us=20)
    assert [p.from_us for p in longer.periods] == [None, 10, 20]
    document = json.loads(longer.to_json())
    document["rotations"][1]["new"] = document["rotations"][0]["new"]
    with pytest.raises(IntegrityError, match="rotation 2: does not name keys 2 and 3"):
        KeyHistory.parse(document)


# -- notice codes ----------------------------------------------------------------------------


def test_old_notice_codes_still_verify_after_rotation(world: World, cli: Invoke) -> None:
    old_code = make_code(code_key(world.secrets), incident_id=3, subject_id=42)
    result = cli(["secrets", "rotate", "notice-codes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["version"] == 2
    after = _reloaded(world).secrets
    new_code = make_code(code_key(after), incident_id=3, subject_id=42)
    assert new_code != old_code
    verify_code(after, incident_id=3, subject_id=42, code=old_code)
    verify_code(after, incident_id=3, subject_id=42, code=new_code.lower())
    with pytest.raises(Denied):
        verify_code(after, incident_id=3, subject_id=43, code=old_code)
    [event] = _events(world, "secret:rotate")
    assert json.loads(event.detail or "{}") == {
        "kind": "notice-codes",
        "versions": {"notice-code": 2},
    }
    secrets_file = world.settings.resolved_secrets_dir / KEY_VERSIONS
    assert secrets_file.stat().st_mode & 0o077 == 0


def test_a_failed_rotation_records_nothing(world: World) -> None:
    directory = world.settings.resolved_secrets_dir
    (directory / (KEY_VERSIONS + ".new")).mkdir()
    with pytest.raises(OSError):
        rotation.rotate_notice_codes(world.sessions, directory=directory, actor="operator:test")
    assert _events(world, "secret:rotate") == []
    assert not (directory / KEY_VERSIONS).exists()


# -- webhooks --------------------------------------------------------------------------------


def test_webhook_secrets_overlap_then_the_old_ones_stop(world: World, cli: Invoke) -> None:
    old_token = webhook_token(world.secrets)
    old_alert_key = active_keys(
        world.secrets, PURPOSES["alert"], now_us=to_us(utcnow()), overlap_seconds=0
    )
    assert cli(["secrets", "rotate", "webhook"]).exit_code == 0
    after = _reloaded(world)
    now = to_us(utcnow())
    keys = active_keys(after.secrets, PURPOSES["alert"], now_us=now, overlap_seconds=3600)
    assert len(keys) == 2 and keys[1].reveal() == old_alert_key[0].reveal()
    late = now + 3601 * 1_000_000
    assert (
        len(active_keys(after.secrets, PURPOSES["alert"], now_us=late, overlap_seconds=3600)) == 1
    )

    # The alert webhook carries both signatures: a receiver with either secret accepts it.
    import httpx

    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    notifier = WebhookNotifier(
        url="https://siem.example/hook", key=keys[0], previous=keys[1],
        transport=httpx.MockTransport(handler),
    )  # fmt: skip
    notifier.send({"id": 1})
    [request] = received
    header = request.headers[SIGNATURE_HEADER]
    assert check_signature(old_alert_key, request.content, header)
    assert check_signature(keys[:1], request.content, header)

    # The canary webhook takes the old token during the overlap, not after.
    body = {"contact": "nobody@example.org"}
    api = after.api()
    during = api.post("/hooks/canary", json=body, headers={"Authorization": f"Bearer {old_token}"})
    assert during.status_code != 401
    after.now = utcnow() + timedelta(hours=after.settings.webhook_rotation_overlap_hours + 1)
    late_api = after.api()
    refused = late_api.post(
        "/hooks/canary", json=body, headers={"Authorization": f"Bearer {old_token}"}
    )
    assert refused.status_code == 401
    new_token = webhook_token(after.secrets)
    accepted = late_api.post(
        "/hooks/canary", json=body, headers={"Authorization": f"Bearer {new_token}"}
    )
    assert accepted.status_code != 401


# -- pseudonyms ------------------------------------------------------------------------------


def test_pseudonym_rotation_maps_old_to_new_once_and_attribution_still_works(
    world: World, cli: Invoke
) -> None:
    ids, token = _served(world)
    pid = world.processor_id("lingua")
    old = Pseudonymiser(world.secrets, pid)
    old_names = {sid: old.encode(sid) for sid in ids[:4]}
    assert cli(["secrets", "rotate", "pseudonyms"]).exit_code == 1  # --processor is needed
    result = cli(["secrets", "rotate", "pseudonyms", "--processor", "lingua", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["to"] == 2

    # A gateway started before the rotation does not hold the new key: nothing handed out.
    assert world.api().get(MAPPING, token=token).status_code == 503
    after = _reloaded(world)
    api = after.api()
    new = Pseudonymiser(after.secrets, pid)
    listed = api.get(SUBJECTS, token=token).json()
    assert {p["pseudonym"] for p in listed["data"]} == {new.encode(sid) for sid in ids[:4]}
    assert not {p["pseudonym"] for p in listed["data"]} & set(old_names.values())

    first = api.get(MAPPING, token=token)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["from_version"], body["to_version"]) == (1, 2)
    assert {(m["old"], m["new"]) for m in body["mapping"]} == {
        (old_names[sid], new.encode(sid)) for sid in ids[:4]
    }
    second = api.get(MAPPING, token=token)
    assert second.status_code == 403
    [fetch] = _events(world, "pseudonym:mapping")
    assert json.loads(fetch.detail or "{}")["pseudonyms"] == 4
    assert len(_events(world, "secret:rotate")) == 1

    # A leak made with the old pseudonyms still names the processor and the people.
    for sid, name in old_names.items():
        assert identify(after.secrets, name, [pid]) == (pid, sid)
    assert identify(after.secrets, new.encode(ids[0]), [pid]) == (pid, ids[0])
    con = duckdb.connect()
    con.execute("CREATE TABLE dump (pseudonym VARCHAR)")
    con.executemany("INSERT INTO dump VALUES (?)", [(n,) for n in old_names.values()])
    decode_pseudonyms(con, after.secrets, [pid])
    hits = con.execute("SELECT processor_id, subject_id FROM pseudo_hits ORDER BY 2").fetchall()
    assert hits == [(pid, sid) for sid in sorted(old_names)]
    verify_trail(world.engine, public_key=after.secrets.audit_keys)


def test_a_processor_never_rotated_has_no_mapping(world: World) -> None:
    _, token = _served(world)
    assert world.api().get(MAPPING, token=token).status_code == 404


def test_the_evidence_gates_pass_after_an_audit_key_rotation(
    world: World, cli: Invoke, tmp_path: Path
) -> None:
    """The authority pack and the sanction dossier verify the trail with the key history:
    checkpoints signed before the rotation are the old key's, and still count."""
    incident_id = make_incident(world)
    assert cli(["secrets", "rotate", "audit-signing"]).exit_code == 0
    after = _reloaded(world).secrets
    with world.sessions.begin() as s:
        pack = prepare_pack(
            s, world.settings, incident_id=incident_id, actor="operator:test",
            audit_key=after.verify_key, audit_keys=after.audit_keys,
        )  # fmt: skip
        assert pack.phase == 1
        dossier = build_dossier(
            s, world.settings, after, processor="lingua", incident_id=incident_id,
            out_dir=tmp_path / "dossier", actor="operator:test", now=utcnow(), pdf=False,
        )  # fmt: skip
    assert dossier is not None
    with world.sessions.begin() as s, pytest.raises(IntegrityError, match="another key"):
        prepare_pack(
            s, world.settings, incident_id=incident_id, actor="operator:test",
            audit_key=after.verify_key,
        )  # fmt: skip
