"""Streaming the audit trail's security events to the controller's SIEM, at least once.

The outbox is the audit trail: every alert, suspension, incident step and operator action
is already an audit event, committed with what it records, so nothing is lost when the
SIEM is down and nothing is written twice on the gateway's path. A
:class:`~vigie.ops.models.SiemCursor` row per sink holds the last sequence number the
sink acknowledged. :func:`push` reads the exported events after it
(:func:`vigie.ops.ocsf.exported`), sends them in order, and only then moves the cursor —
with a compare-and-set, so two pushers never move it backwards. A sink that fails leaves
the cursor where it was: the next push sends the same events again, with the same ids
(``metadata.uid``), so a receiver that dedupes by id sees each event once.

Sinks (``VIGIE_SIEM_URL``):

- ``syslog+tcp://host:port`` / ``syslog+tls://host:port``: RFC 5424 messages (facility
  13, log audit) whose MSG is the OCSF JSON, framed by octet counting (RFC 6587); TLS
  verifies the server against the system's CAs, or the CA file of ``?ca=/path/ca.pem``;
- ``file:///path/events.jsonl``: OCSF JSON lines appended and fsync'ed (for a log
  shipper).

and, beside it, ``VIGIE_SIEM_WEBHOOK_URL``: batches POSTed as signed JSON
(:mod:`vigie.ops.siem_webhook`), with a cursor of its own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import HEAD, AuditEvent
from vigie.errors import ConfigError
from vigie.ops import ocsf
from vigie.ops.models import SiemCursor
from vigie.ops.webhooks import PURPOSES, active_keys
from vigie.processors.models import Processor
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings
from vigie.store.base import utcnow

BATCH = 500
FACILITY = 13  # log audit
_SYSLOG_SEVERITY = {1: 6, 2: 5, 3: 4, 4: 3, 5: 2}  # OCSF severity -> syslog severity
SD_ID = "vigie@32473"  # 32473: the enterprise number RFC 5612 reserves for examples


class Sink(Protocol):
    """Somewhere OCSF events go; ``send`` raises ``OSError`` when they did not arrive."""

    @property
    def name(self) -> str: ...

    def send(self, events: Sequence[dict[str, Any]]) -> None: ...


def syslog_frame(item: dict[str, Any], *, hostname: str) -> bytes:
    """One RFC 5424 message carrying ``item``, with its RFC 6587 octet-count prefix."""
    severity = _SYSLOG_SEVERITY.get(int(item.get("severity_id", 1)), 6)
    vigie = item["unmapped"]["vigie"]
    stamp = datetime.fromtimestamp(item["time"] / 1000, UTC).isoformat(timespec="milliseconds")
    msgid = str(vigie["action"]).replace(" ", "_")[:32]
    head = (
        f"<{FACILITY * 8 + severity}>1 {stamp.replace('+00:00', 'Z')} {hostname} vigie - "
        f'{msgid} [{SD_ID} seq="{vigie["seq"]}" class_uid="{item["class_uid"]}"] '
    )
    message = head.encode() + orjson.dumps(item)
    return f"{len(message)} ".encode() + message


@dataclass
class SyslogSink:
    """RFC 5424 over TCP (or TLS), one connection per push."""

    host: str
    port: int
    tls: bool = False
    ca_file: Path | None = None  # TLS: trust this CA instead of the system's
    timeout: float = 10.0

    @property
    def name(self) -> str:
        return f"syslog+{'tls' if self.tls else 'tcp'}://{self.host}:{self.port}"

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        hostname = socket.gethostname() or "-"
        payload = b"".join(syslog_frame(e, hostname=hostname) for e in events)
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as raw:
            if self.tls:
                context = ssl.create_default_context(cafile=self.ca_file)
                with context.wrap_socket(raw, server_hostname=self.host) as conn:
                    conn.sendall(payload)
                    # Our close_notify: the receiver answers it, or closes once it has read
                    # everything (an EOF, as over plain TCP).
                    with contextlib.suppress(ssl.SSLEOFError):
                        conn.unwrap()
                return
            raw.sendall(payload)
            raw.shutdown(socket.SHUT_WR)
            raw.recv(1)  # wait for the receiver to close: it has read everything


@dataclass
class FileSink:
    """OCSF JSON lines appended to ``path`` (fsync'ed before the cursor moves)."""

    path: Path

    @property
    def name(self) -> str:
        return f"file://{self.path}"

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
            f.flush()
            os.fsync(f.fileno())


def sink_from_url(url: str) -> Sink:
    """The sink ``VIGIE_SIEM_URL`` names; raises ``ConfigError`` for another form."""
    parts = urlsplit(url)
    if parts.scheme in ("syslog+tcp", "syslog+tls") and parts.hostname and parts.port:
        ca = parse_qs(parts.query).get("ca")
        return SyslogSink(
            parts.hostname,
            parts.port,
            tls=parts.scheme == "syslog+tls",
            ca_file=Path(ca[0]) if ca else None,
        )
    if parts.scheme == "file" and parts.path:
        return FileSink(Path(parts.path))
    raise ConfigError(
        "VIGIE_SIEM_URL must be syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT or file:///PATH"
    )


def sinks_from_settings(settings: Settings, secrets: InstanceSecrets) -> list[Sink]:
    """Every sink the settings configure (``VIGIE_SIEM_URL``, ``VIGIE_SIEM_WEBHOOK_URL``)."""
    from vigie.ops.siem_webhook import WebhookSink  # the webhook's HTTP client, only if used

    sinks: list[Sink] = []
    if settings.siem_url:
        sinks.append(sink_from_url(settings.siem_url))
    if settings.siem_webhook_url:
        parts = urlsplit(settings.siem_webhook_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("VIGIE_SIEM_WEBHOOK_URL must be an http:// or https:// URL")
        keys = active_keys(
            secrets,
            PURPOSES["siem"],
            now_us=time.time_ns() // 1000,
            overlap_seconds=settings.webhook_rotation_overlap_hours * 3600,
        )
        sinks.append(WebhookSink(settings.siem_webhook_url, keys))
    return sinks


@dataclass
class PushReport:
    """What one push did."""

    sent: int = 0
    last_seq: int = 0
    duplicates_possible: bool = False  # another pusher moved the cursor meanwhile


_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.at_us,
    AuditEvent.action,
    AuditEvent.actor,
    AuditEvent.origin,
    AuditEvent.processor_id,
    AuditEvent.key_id,
    AuditEvent.outcome,
    AuditEvent.detail,
)


def _cursor(session: Session, sink: str) -> int:
    row = session.get(SiemCursor, sink)
    if row is None:
        session.add(SiemCursor(sink=sink, last_seq=0, updated_at=utcnow()))
        session.flush()
        return 0
    return int(row.last_seq)


def _batch(session: Session, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The exported events after ``after`` (at most ``limit``), and the seq read up to."""
    head = session.scalar(select(HEAD.c.size).where(HEAD.c.id == 1)) or 0
    names = {int(i): str(n) for i, n in session.execute(select(Processor.id, Processor.name))}
    events: list[dict[str, Any]] = []
    upto = after
    step = max(limit * 10, 1000)
    while upto < head and len(events) < limit:
        end = min(head, upto + step)
        rows = session.execute(
            select(*_COLUMNS)
            .where(AuditEvent.seq > upto, AuditEvent.seq <= end)
            .order_by(AuditEvent.seq)
        ).all()
        for row in rows:
            if ocsf.exported(row.action, row.actor):
                fields = dict(row._mapping)
                processor = names.get(fields.pop("processor_id"))
                events.append(ocsf.event(**fields, processor=processor))
                if len(events) == limit:
                    end = row.seq
                    break
        upto = end
    return events, upto


def push(sessions: sessionmaker[Session], sink: Sink, *, batch: int = BATCH) -> PushReport:
    """Send ``sink`` every exported event it has not acknowledged, in order.

    Raises ``OSError`` (what the sink raised) when a batch did not arrive; the batches
    sent before it stay acknowledged, that one and the rest are sent by the next push.
    """
    report = PushReport()
    while True:
        with sessions.begin() as session:
            after = _cursor(session, sink.name)
        with sessions() as session:
            events, upto = _batch(session, after, batch)
        report.last_seq = after
        if upto == after:
            return report
        if events:
            sink.send(events)
        with sessions.begin() as session:
            result = session.execute(
                update(SiemCursor)
                .where(SiemCursor.sink == sink.name, SiemCursor.last_seq == after)
                .values(last_seq=upto, updated_at=utcnow())
            )
            moved = getattr(result, "rowcount", 0)
        if not moved:
            report.duplicates_possible = True
            return report
        report.sent += len(events)
        report.last_seq = upto
