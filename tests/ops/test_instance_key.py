"""`vigie secrets rotate instance-key`: a new root key; what the old one made still checks."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from tests.cli.conftest import Invoke
from tests.gateway.conftest import World
from vigie.audit.models import AuditEvent, to_us
from vigie.audit.verify import verify_trail
from vigie.breach.codes import code_key, make_code, verify_code
from vigie.errors import ConfigError, Denied
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.leaks import vault
from vigie.leaks.models import StoredAnalysis
from vigie.ops.webhooks import PURPOSES, active_keys
from vigie.public.contacts import Contact, open_contact, seal_contact
from vigie.secrets import INSTANCE_KEY, INSTANCE_KEYS, InstanceSecrets, load_secrets
from vigie.store.base import utcnow

from ..anchoring import sign


def _stored_report(world: World) -> int:
    """A stored leak report, sealed as :func:`vigie.leaks.vault.store_report` seals one."""
    now = utcnow()
    with world.sessions.begin() as s:
        row = StoredAnalysis(
            created_at=now, purge_after=now + timedelta(days=90), actor="operator:test",
            files=1, rows=7, matched_rows=7, affected_subjects=7, verdict="confirmed",
            nonce=os.urandom(12), ciphertext=b"",
        )  # fmt: skip
        s.add(row)
        s.flush()
        key = AESGCM(world.secrets.derive(vault.PURPOSE))
        row.ciphertext = key.encrypt(row.nonce, b'{"affected_subjects": 7}', vault._aad(row))
        return row.id


def _rotate(cli: Invoke) -> dict[str, object]:
    done = cli(["secrets", "rotate", "instance-key", "--json"])
    assert done.exit_code == 0, done.output
    facts: dict[str, object] = json.loads(done.output)
    return facts


def test_rotation_rewraps_and_everything_made_before_still_checks(
    world: World, cli: Invoke
) -> None:
    directory = world.settings.resolved_secrets_dir
    ids = world.people(3)
    world.assign(world.processor("lingua"), ids)
    pid = world.processor_id("lingua")
    pseudonyms = Pseudonymiser(world.secrets, pid).encode_many(ids)
    code = make_code(code_key(world.secrets), incident_id=3, subject_id=42)
    contact = Contact("email", "someone@example.org")
    sealed = seal_contact(world.secrets, contact)
    report = _stored_report(world)
    old_master = world.secrets.master.reveal()
    old_vault_key = world.secrets.derive(vault.PURPOSE)
    sign(world.sessions, world.secrets)

    facts = _rotate(cli)
    assert facts["epoch"] == 1 and facts["retired"] == 1 and facts["reports"] == 1
    after = load_secrets(directory)
    assert after.epoch == 1 and after.master.reveal() != old_master
    assert after.retired[0].reveal() == old_master  # re-wrapped, not lost
    keys_file = (directory / INSTANCE_KEYS).read_bytes()
    assert old_master.hex().encode() not in keys_file and old_master not in keys_file
    assert stat.S_IMODE((directory / INSTANCE_KEYS).stat().st_mode) == 0o600

    # What processors, people and receivers hold still checks.
    assert Pseudonymiser(after, pid).encode_many(ids) == pseudonyms
    verify_code(after, incident_id=3, subject_id=42, code=code)
    new_code = make_code(code_key(after), incident_id=3, subject_id=42)
    assert new_code != code  # new notices: a key from the new instance key
    verify_code(after, incident_id=3, subject_id=42, code=new_code)
    with pytest.raises(Denied):
        verify_code(after, incident_id=3, subject_id=43, code=code)
    assert open_contact(after, sealed) == contact
    hooks = active_keys(after, PURPOSES["alert"], now_us=to_us(utcnow()), overlap_seconds=3600)
    assert len(hooks) == 2  # new and old signatures during the overlap

    # The stored report was re-encrypted under a key of the new instance key.
    with world.sessions() as s:
        row = s.get(StoredAnalysis, report)
        assert row is not None
        with pytest.raises(InvalidTag):
            AESGCM(old_vault_key).decrypt(row.nonce, row.ciphertext, vault._aad(row))
        assert vault.load_report(s, analysis_id=report, secrets=after)["affected_subjects"] == 7
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "secret:rotate"))
        assert json.loads(event.detail or "{}")["kind"] == "instance-key"
    sign(world.sessions, after)
    verify_trail(world.engine, public_key=after.audit_keys)

    # A second rotation re-wraps both retired keys under the third.
    assert _rotate(cli)["epoch"] == 2
    again = load_secrets(directory)
    assert sorted(again.retired) == [0, 1] and again.retired[1].reveal() == after.master.reveal()
    assert Pseudonymiser(again, pid).encode_many(ids) == pseudonyms
    verify_code(again, incident_id=3, subject_id=42, code=code)
    verify_code(again, incident_id=3, subject_id=42, code=new_code)
    with world.sessions() as s:
        assert vault.load_report(s, analysis_id=report, secrets=again)["affected_subjects"] == 7


def test_a_key_file_from_another_rotation_is_refused(world: World, cli: Invoke) -> None:
    """instance.key and instance-keys.json belong together: restoring one alone fails loud."""
    directory = world.settings.resolved_secrets_dir
    old = (directory / INSTANCE_KEY).read_bytes()
    _rotate(cli)
    (directory / INSTANCE_KEY).write_bytes(old)
    with pytest.raises(ConfigError, match="does not unwrap"):
        load_secrets(directory)


def test_an_instance_never_rotated_derives_as_before(world: World) -> None:
    """Epoch 0 is the plain instance.key: no file, same keys as before this feature."""
    directory = world.settings.resolved_secrets_dir
    assert not (directory / INSTANCE_KEYS).exists()
    loaded = load_secrets(directory)
    fresh = InstanceSecrets(master=loaded.master, signing_key=loaded.signing_key)
    assert loaded.epoch == 0 and loaded.derive("pseudonym:1") == fresh.derive("pseudonym:1")
