"""Telling someone: alerts by e-mail (SMTP) and by webhook (JSON over HTTP POST).

Each channel is a :class:`Notifier`; :func:`notifier_from_settings` builds the ones the
settings ask for (``alert_email_to`` with ``smtp_*`` and ``mail_from``;
``alert_webhook_url``), or :class:`NullNotifier` when none is set.

Messages hold what the DPO needs to act — alert id, detector, severity, processor,
containment, figures — and no person's data. Webhook bodies are signed:
``X-Vigie-Signature: sha256=<hex HMAC-SHA256 of the body>`` under a key derived from the
instance secret (``vigie alerts webhook-secret`` prints it for the receiver).

Delivery runs after the alert is committed (:func:`deliver_pending`); a failed delivery
is kept (``notify_error``) and retried on the next run, never lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigie.detection.alerts import alert_dict
from vigie.detection.models import Alert
from vigie.errors import VigieError
from vigie.ops.webhooks import PURPOSES, active_keys
from vigie.processors.models import Processor
from vigie.secrets import InstanceSecrets, Secret
from vigie.settings import Settings
from vigie.store.base import utcnow

SIGNATURE_HEADER = "X-Vigie-Signature"
TIMEOUT_S = 10.0


class DeliveryFailed(VigieError):
    """A notification channel could not deliver an alert."""


class Notifier(Protocol):
    """A channel that delivers alerts (raises :class:`DeliveryFailed`)."""

    def send(self, alert: dict[str, Any]) -> None:
        """Deliver one alert (as :func:`vigie.detection.alerts.alert_dict` gives it)."""


class NullNotifier:
    """Delivers nowhere (no channel configured)."""

    def send(self, alert: dict[str, Any]) -> None:
        return None


def _subject(alert: dict[str, Any]) -> str:
    who = alert.get("processor") or "no processor"
    return f"[Vigie] {alert['severity'].upper()} alert {alert['id']}: {alert['detector']} ({who})"


def _text(alert: dict[str, Any]) -> str:
    lines = [
        alert["summary"],
        "",
        f"Alert:       {alert['id']} ({alert['detector']}, {alert['severity']})",
        f"Processor:   {alert.get('processor') or '-'} (key {alert.get('key_id') or '-'})",
        f"Containment: {alert['containment']}",
        f"Incident:    {alert.get('incident_id') or '-'}",
        f"Raised at:   {alert['raised_at']}",
        "",
        "Evidence:",
    ]
    lines += [f"  {k}: {v}" for k, v in sorted(alert.get("evidence", {}).items())]
    lines += [
        "",
        "Lift a suspension only after review: vigie processors reinstate NAME --reason ...",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class EmailNotifier:
    """Sends each alert as a plain-text e-mail through an SMTP server."""

    host: str
    port: int
    mail_from: str
    to: str
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)

    def send(self, alert: dict[str, Any]) -> None:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = self.to
        msg["Subject"] = _subject(alert)
        msg.set_content(_text(alert))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S) as smtp:
                if self.user and self.password is not None:
                    smtp.login(self.user, self.password.reveal().decode())
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"e-mail to {self.to} failed: {type(exc).__name__}") from exc


@dataclass
class WebhookNotifier:
    """POSTs each alert as JSON to a URL, signed with HMAC-SHA256."""

    url: str
    key: Secret = field(repr=False)
    transport: httpx.BaseTransport | None = field(default=None, repr=False)
    previous: Secret | None = field(default=None, repr=False)
    """The key before the last rotation, during the overlap (:mod:`vigie.ops.webhooks`)."""
    secrets: InstanceSecrets | None = field(default=None, repr=False)
    """When given, the keys are taken from it at each send (``key`` and ``previous`` are
    then only the first ones): a rotation, and the end of its overlap, reach a running
    server without a restart."""
    overlap_seconds: float = 0.0

    def send(self, alert: dict[str, Any]) -> None:
        body = json.dumps({"type": "vigie.alert", "alert": alert}, sort_keys=True).encode()
        if self.secrets is not None:
            keys = active_keys(
                self.secrets, PURPOSES["alert"], now_us=time.time_ns() // 1000,
                overlap_seconds=self.overlap_seconds,
            )  # fmt: skip
        else:
            keys = [self.key] if self.previous is None else [self.key, self.previous]
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_all(keys, body)}
        try:
            with httpx.Client(timeout=TIMEOUT_S, transport=self.transport) as client:
                response = client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook failed: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise DeliveryFailed(f"webhook answered HTTP {response.status_code}")


@dataclass
class FanoutNotifier:
    """Delivers to every channel; fails if any fails (after trying them all)."""

    channels: Sequence[Notifier]

    def send(self, alert: dict[str, Any]) -> None:
        errors: list[str] = []
        for channel in self.channels:
            try:
                channel.send(alert)
            except DeliveryFailed as exc:
                errors.append(str(exc))
        if errors:
            raise DeliveryFailed("; ".join(errors))


def webhook_key(secrets: InstanceSecrets) -> Secret:
    """The key that signs alert webhooks (derived from the instance secret)."""
    return Secret(secrets.derive("alert-webhook"))


def sign(key: Secret, body: bytes) -> str:
    """The ``X-Vigie-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(key.reveal(), body, hashlib.sha256).hexdigest()


def sign_all(keys: Sequence[Secret], body: bytes) -> str:
    """The ``X-Vigie-Signature`` value under each key, newest first, joined by ``", "``.

    With one key it is :func:`sign`'s value; during a rotation's overlap a receiver that
    knows either secret finds its signature among them.
    """
    return ", ".join(sign(key, body) for key in keys)


def check_signature(keys: Sequence[Secret], body: bytes, header: str) -> bool:
    """Whether ``header`` holds a signature of ``body`` under one of ``keys`` (as a receiver
    checks it: each part compared in constant time)."""
    found = False
    for part in header.split(","):
        for key in keys:
            found |= hmac.compare_digest(part.strip().encode(), sign(key, body).encode())
    return found


def notifier_from_settings(settings: Settings, secrets: InstanceSecrets) -> Notifier:
    """The channels the settings configure, or a :class:`NullNotifier`."""
    channels: list[Notifier] = []
    if settings.alert_email_to:
        password = settings.smtp_password
        channels.append(
            EmailNotifier(
                host=settings.smtp_host,
                port=settings.smtp_port,
                mail_from=settings.mail_from,
                to=settings.alert_email_to,
                user=settings.smtp_user,
                password=Secret(password.get_secret_value().encode()) if password else None,
            )
        )
    if settings.alert_webhook_url:
        keys = active_keys(
            secrets,
            PURPOSES["alert"],
            now_us=time.time_ns() // 1000,
            overlap_seconds=settings.webhook_rotation_overlap_hours * 3600,
        )
        channels.append(
            WebhookNotifier(
                url=settings.alert_webhook_url,
                key=keys[0],
                previous=keys[1] if len(keys) > 1 else None,
                secrets=secrets,
                overlap_seconds=settings.webhook_rotation_overlap_hours * 3600,
            )
        )
    if not channels:
        return NullNotifier()
    return channels[0] if len(channels) == 1 else FanoutNotifier(channels)


def deliver_pending(session: Session, *, notifier: Notifier, limit: int = 100) -> int:
    """Send alerts not yet delivered (oldest first); return how many went out.

    With no channel (:class:`NullNotifier`) nothing is marked delivered: the alerts wait
    for a channel to be configured.
    """
    if isinstance(notifier, NullNotifier):
        return 0
    rows = session.execute(
        select(Alert, Processor.name)
        .outerjoin(Processor, Processor.id == Alert.processor_id)
        .where(Alert.notified_at.is_(None))
        .order_by(Alert.id)
        .limit(limit)
    ).all()
    sent = 0
    for alert, name in rows:
        try:
            notifier.send(alert_dict(alert, processor=name))
        except DeliveryFailed as exc:
            alert.notify_error = str(exc)[:200]
            continue
        alert.notified_at = utcnow()
        alert.notify_error = None
        sent += 1
    session.flush()
    return sent
