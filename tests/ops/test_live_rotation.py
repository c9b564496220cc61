"""Running processes follow `vigie secrets rotate` without a restart."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.cli.conftest import Invoke
from tests.conftest import SQLITE_ONLY
from tests.gateway.conftest import World
from tests.gateway.serving import serving
from vigie.audit.checkpoints import fingerprint
from vigie.audit.models import AuditCheckpoint
from vigie.audit.verify import verify_trail
from vigie.detection.notify import (
    SIGNATURE_HEADER,
    WebhookNotifier,
    check_signature,
    notifier_from_settings,
)
from vigie.fingerprint.pseudonyms import Pseudonymiser
from vigie.ops.webhooks import PURPOSES, active_keys
from vigie.secrets import (
    KEY_VERSIONS,
    add_versions,
    ensure_secrets,
    load_secrets,
    publish_generation,
)
from vigie.settings import Settings

PURPOSE = "notice-code"


def _until(check: object, *, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def test_secrets_reload_on_a_published_generation_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ensure_secrets(tmp_path)
    live = load_secrets(tmp_path, reload_seconds=0.05)
    first = live.derive(PURPOSE)
    add_versions(tmp_path, [PURPOSE], at_us=1)
    time.sleep(0.06)
    assert live.current(PURPOSE).version == 1  # written, not published: not yet committed
    publish_generation(tmp_path)
    time.sleep(0.06)
    assert live.current(PURPOSE).version == 2 and live.derive(PURPOSE) != first
    assert live.all_versions(PURPOSE)[-1].version == 1  # the old one still checks old codes

    good = (tmp_path / KEY_VERSIONS).read_bytes()
    (tmp_path / KEY_VERSIONS).write_bytes(b"{not json")
    publish_generation(tmp_path)
    time.sleep(0.06)
    with caplog.at_level(logging.WARNING, logger="vigie.secrets"):
        assert live.current(PURPOSE).version == 2  # a bad directory: the keys in use stay
    assert "secrets reload failed" in caplog.text
    (tmp_path / KEY_VERSIONS).write_bytes(good)
    publish_generation(tmp_path)
    assert live.reload_if_rotated() and live.current(PURPOSE).version == 2


def test_a_short_lived_load_never_looks(tmp_path: Path) -> None:
    ensure_secrets(tmp_path)
    fixed = load_secrets(tmp_path)
    add_versions(tmp_path, [PURPOSE], at_us=1)
    publish_generation(tmp_path)
    assert fixed.current(PURPOSE).version == 1 and not fixed.reload_if_rotated()


def test_the_alert_webhook_signs_with_the_keys_of_the_moment(tmp_path: Path) -> None:
    """The notifier a server builds at start follows a webhook rotation published later."""
    ensure_secrets(tmp_path)
    live = load_secrets(tmp_path, reload_seconds=0.05)
    settings = Settings(data_dir=tmp_path / "data", alert_webhook_url="https://siem.example/h")
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    notifier = notifier_from_settings(settings, live)
    assert isinstance(notifier, WebhookNotifier)
    notifier.transport = httpx.MockTransport(handler)
    old = active_keys(live, PURPOSES["alert"], now_us=1, overlap_seconds=0)
    add_versions(tmp_path, list(PURPOSES.values()), at_us=time.time_ns() // 1000)
    publish_generation(tmp_path)
    time.sleep(0.06)
    notifier.send({"id": 1})
    header = received[-1].headers[SIGNATURE_HEADER]
    new = active_keys(live, PURPOSES["alert"], now_us=time.time_ns() // 1000, overlap_seconds=0)
    assert new[0].reveal() != old[0].reveal()
    assert check_signature(new, received[-1].content, header)  # the new key, at once
    assert check_signature(old, received[-1].content, header)  # and the old, in the overlap


@pytest.mark.slow
@SQLITE_ONLY
def test_a_running_server_picks_up_rotated_keys(
    world: World, cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `vigie serve`: after `secrets rotate pseudonyms` it hands out the new
    pseudonyms, and after `secrets rotate audit-signing` it signs with the new key.

    On SQLite only, without the job worker: what is checked is that a running process
    re-reads the secrets files; the rotations themselves, and what they write to the
    database, run on both databases in ``test_rotation.py``."""
    monkeypatch.setenv("VIGIE_SECRETS_RELOAD_SECONDS", "0.2")
    monkeypatch.setenv("VIGIE_AUDIT_CHECKPOINT_EVERY_SECONDS", "1")
    ids = world.people(3)
    world.assign(world.processor("lingua"), ids)
    pid = world.processor_id("lingua")
    token = world.key("lingua")
    headers = {"Authorization": f"Bearer {token}"}

    def pseudonyms(base: str) -> set[str]:
        r = httpx.get(f"{base}/api/v1/subjects", headers=headers, timeout=10)
        assert r.status_code == 200, r.text
        return {item["pseudonym"] for item in r.json()["data"]}

    with serving(world.settings, tmp_path / "serve.log", "--no-worker") as base:
        before = pseudonyms(base)
        assert before == set(Pseudonymiser(world.secrets, pid).encode_many(ids))
        rotated = cli(["secrets", "rotate", "pseudonyms", "--processor", "lingua"])
        assert rotated.exit_code == 0, rotated.output
        fresh = load_secrets(world.settings.resolved_secrets_dir)
        want = set(Pseudonymiser(fresh, pid).encode_many(ids))
        assert want.isdisjoint(before)
        _until(lambda: pseudonyms(base) == want)  # same process, no restart

        rotated = cli(["secrets", "rotate", "audit-signing"])
        assert rotated.exit_code == 0, rotated.output
        new_key = fingerprint(load_secrets(world.settings.resolved_secrets_dir).verify_key)

        def signed_by_new_key() -> bool:
            pseudonyms(base)  # events for the server's own checkpointer to anchor
            with world.sessions() as s:
                last = s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()))
                cp = last.first()
                return cp is not None and cp.key_fingerprint == new_key and cp.id > 3

        _until(signed_by_new_key)
        log = (tmp_path / "serve.log").read_text()
        assert "secrets reloaded after a rotation" in log
    history = load_secrets(world.settings.resolved_secrets_dir).audit_keys
    verify_trail(world.engine, public_key=history)
