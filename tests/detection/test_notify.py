"""Alert notifications, against a real SMTP server and a real HTTP server on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.detection.models import Alert
from vigie.detection.notify import (
    SIGNATURE_HEADER,
    DeliveryFailed,
    EmailNotifier,
    FanoutNotifier,
    NullNotifier,
    WebhookNotifier,
    deliver_pending,
    notifier_from_settings,
    sign,
    webhook_key,
)
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

from .conftest import World

ALERT: dict[str, Any] = {
    "id": 7,
    "raised_at": "2026-03-02T10:00:00+00:00",
    "detector": "volume",
    "severity": "high",
    "processor_id": 1,
    "processor": "lingua-test",
    "key_id": 3,
    "summary": "900 distinct people today, normal day 100",
    "containment": "suspend_key",
    "incident_id": 2,
    "audit_seq": 41,
    "evidence": {"people_today": 900, "audit_seq_from": 1, "audit_seq_to": 40},
    "notified_at": None,
}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


class Hook:
    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.received: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def hook() -> Iterator[tuple[str, Hook]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers), body))
            self.send_response(state.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/vigie", state
    server.shutdown()
    server.server_close()


def test_email_reaches_a_real_smtp_server(smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    EmailNotifier(
        host="127.0.0.1",
        port=port,
        mail_from="vigie@controller.example",
        to="dpo@controller.example",
    ).send(ALERT)
    (envelope,) = inbox.messages
    assert envelope.rcpt_tos == ["dpo@controller.example"]
    text = envelope.content.decode()
    assert "Subject: [Vigie] HIGH alert 7: volume (lingua-test)" in text
    assert "Containment: suspend_key" in text and "people_today: 900" in text


def test_email_failure_is_a_delivery_error() -> None:
    notifier = EmailNotifier(
        host="127.0.0.1", port=_free_port(), mail_from="vigie@controller.example", to="x@y.example"
    )
    with pytest.raises(DeliveryFailed, match="e-mail"):
        notifier.send(ALERT)


def test_webhook_posts_signed_json(hook: tuple[str, Hook], secrets: InstanceSecrets) -> None:
    url, state = hook
    key = webhook_key(secrets)
    WebhookNotifier(url=url, key=key).send(ALERT)
    ((headers, body),) = state.received
    assert json.loads(body)["alert"]["id"] == 7
    assert headers[SIGNATURE_HEADER] == sign(key, body)
    assert repr(key) == "'**********'"


def test_webhook_error_status_fails(hook: tuple[str, Hook], secrets: InstanceSecrets) -> None:
    url, state = hook
    state.status = 500
    with pytest.raises(DeliveryFailed, match="HTTP 500"):
        WebhookNotifier(url=url, key=webhook_key(secrets)).send(ALERT)


def test_fanout_tries_every_channel(hook: tuple[str, Hook], secrets: InstanceSecrets) -> None:
    url, state = hook
    broken = WebhookNotifier(url=f"http://127.0.0.1:{_free_port()}/", key=webhook_key(secrets))
    with pytest.raises(DeliveryFailed):
        FanoutNotifier([broken, WebhookNotifier(url=url, key=webhook_key(secrets))]).send(ALERT)
    assert len(state.received) == 1


def test_settings_choose_the_channels(settings: Settings, secrets: InstanceSecrets) -> None:
    assert isinstance(notifier_from_settings(settings, secrets), NullNotifier)
    both = settings.model_copy(
        update={"alert_email_to": "dpo@controller.example", "alert_webhook_url": "http://h.invalid"}
    )
    assert isinstance(notifier_from_settings(both, secrets), FanoutNotifier)
    mail = settings.model_copy(update={"alert_email_to": "dpo@controller.example"})
    assert isinstance(notifier_from_settings(mail, secrets), EmailNotifier)


def test_pending_alerts_are_delivered_once_and_failures_retried(
    world: World, hook: tuple[str, Hook], secrets: InstanceSecrets
) -> None:
    url, state = hook
    with world.sessions.begin() as s:
        raise_alert(
            s,
            detector="manual",
            severity=Severity.LOW,
            processor_id=world.processor_id,
            key_id=None,
            summary="a test alert",
            evidence={"count": 1},
        )
    with world.sessions.begin() as s:
        assert deliver_pending(s, notifier=NullNotifier()) == 0  # waits for a channel
    notifier = WebhookNotifier(url=url, key=webhook_key(secrets))
    state.status = 503
    with world.sessions.begin() as s:
        assert deliver_pending(s, notifier=notifier) == 0
    with world.sessions() as s:
        alert = s.scalars(select(Alert)).one()
        assert alert.notified_at is None and alert.notify_error == "webhook answered HTTP 503"
    state.status = 200
    with world.sessions.begin() as s:
        assert deliver_pending(s, notifier=notifier) == 1
    with world.sessions.begin() as s:
        assert deliver_pending(s, notifier=notifier) == 0
    assert len(state.received) == 2
    assert json.loads(state.received[-1][1])["alert"]["processor"] == "lingua-test"
