"""The SIEM export: OCSF over RFC 5424 syslog, at least once, nothing lost while it is down."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.serving import free_port
from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.detection.alerts import raise_alert
from vigie.detection.findings import Severity
from vigie.ops import ocsf
from vigie.ops.models import SiemCursor
from vigie.ops.siem import FileSink, SyslogSink, push, sink_from_url
from vigie.processors.apply import record_created
from vigie.processors.keys import issue_key
from vigie.processors.models import Processor
from vigie.processors.status import suspend_key

OPERATOR = "operator:dpo"
REASON = "Amina Diallo <amina.diallo@mail.example> called"
FRAME = re.compile(rb"(\d+) ")


class Receiver:
    """A syslog receiver on loopback: RFC 6587 octet-counted RFC 5424 messages."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.port = port
        self.messages: list[bytes] = []
        self._tls = tls
        self._server = socket.create_server(("127.0.0.1", port))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stop = False
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            conn.settimeout(10)
            if self._tls is not None:
                try:
                    conn = self._tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):  # a client that did not trust us
                    conn.close()
                    continue
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
            while data:
                m = FRAME.match(data)
                assert m, data[:100]
                n = int(m.group(1))
                start = m.end()
                self.messages.append(data[start : start + n])
                data = data[start + n :]

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self._server.close()

    def events(self) -> list[dict[str, object]]:
        return [orjson.loads(m[m.index(b"{") :]) for m in self.messages]


@contextmanager
def receiving(port: int, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    receiver = Receiver(port, tls)
    try:
        yield receiver
    finally:
        receiver.close()


def _story(sessions: sessionmaker[Session], name: str) -> None:
    """A processor created and keyed by an operator, traffic, a suspension, an alert."""
    with sessions.begin() as s:
        proc = Processor(
            name=name,
            legal_name=f"{name} SAS (fictitious)",
            siren="732100003",
            contact_email=f"dpo@{name}.example",
            security_officer="Claire Martin",
        )
        s.add(proc)
        s.flush()
        record_created(s, proc, actor=OPERATOR)
        key = issue_key(s, processor=name, actor=OPERATOR)
        for _ in range(5):  # the gateway's traffic stays in the trail
            trail.append(
                s,
                action=Action.SUBJECT_READ,
                actor=f"processor:{name}/key:{key.key_id}",
                processor_id=proc.id,
                key_id=key.key_id,
                subject_ids=[1],
                fields=["given_name"],
            )
        suspend_key(s, key_id=key.key_id, reason=REASON, actor=OPERATOR)
        raise_alert(
            s,
            detector="volume",
            severity=Severity.CRITICAL,
            processor_id=proc.id,
            key_id=key.key_id,
            summary=f"{REASON} summary",
            evidence={"people_today": 900, "subjects": [1, 2, 3]},
        )


def _exported_seqs(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as s:
        rows = s.execute(select(AuditEvent.seq, AuditEvent.action, AuditEvent.actor)).all()
    return sorted(seq for seq, action, actor in rows if ocsf.exported(action, actor))


def _cursor(sessions: sessionmaker[Session], sink: str) -> int | None:
    with sessions() as s:
        row = s.get(SiemCursor, sink)
        return None if row is None else row.last_seq


def test_a_siem_down_then_up_gets_every_event_once_in_order(
    sessions: sessionmaker[Session],
) -> None:
    _story(sessions, "lingua")
    port = free_port()
    sink = SyslogSink("127.0.0.1", port)
    with pytest.raises(OSError):  # nobody listens: the SIEM is down
        push(sessions, sink)
    assert not _cursor(sessions, sink.name)  # nothing acknowledged, nothing lost
    with pytest.raises(OSError):
        push(sessions, sink)

    with receiving(port) as receiver:
        first = push(sessions, sink)
        _story(sessions, "cours-plus")  # more happens while it is up
        second = push(sessions, sink)
        assert push(sessions, sink).sent == 0  # nothing owed
    expected = _exported_seqs(sessions)
    events = receiver.events()
    uids = [e["metadata"]["uid"] for e in events]  # type: ignore[index]
    assert uids == [f"vigie-audit-{seq}" for seq in expected]  # all, in order, once
    assert first.sent + second.sent == len(expected) > 8
    assert _cursor(sessions, sink.name) == second.last_seq

    kinds = {e["message"]: e["class_uid"] for e in events}
    assert kinds[Action.ALERT_RAISE] == ocsf.DETECTION
    assert kinds[Action.INCIDENT_OPEN] == ocsf.INCIDENT
    assert kinds[Action.KEY_SUSPEND] == kinds[Action.PROCESSOR_SUSPEND] == ocsf.ACCOUNT
    assert kinds[Action.KEY_ISSUE] == ocsf.ACCOUNT
    assert Action.SUBJECT_READ not in kinds and Action.AUDIT_CHECKPOINT not in kinds
    alert = next(e for e in events if e["message"] == Action.ALERT_RAISE)
    assert alert["severity_id"] == 5 and alert["finding_info"]["title"] == "volume"  # type: ignore[index]
    assert alert["unmapped"]["vigie"]["processor"] in ("lingua", "cours-plus")  # type: ignore[index]

    raw = b"".join(receiver.messages)
    assert b"Amina" not in raw and b"mail.example" not in raw  # reasons and summaries stay
    assert b'"subjects"' not in raw
    head = receiver.messages[0]
    assert re.match(rb"<1\d\d>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ vigie - [a-z:]+ \[vigie@32473 ", head)


def test_the_file_sink_appends_json_lines_and_resumes(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _story(sessions, "lingua")
    sink = sink_from_url(f"file://{tmp_path / 'siem' / 'events.jsonl'}")
    assert isinstance(sink, FileSink)
    assert push(sessions, sink, batch=3).sent == len(_exported_seqs(sessions))  # in batches
    _story(sessions, "cours-plus")
    push(sessions, sink)
    lines = [orjson.loads(x) for x in sink.path.read_text().splitlines()]
    assert [x["metadata"]["uid"] for x in lines] == [
        f"vigie-audit-{seq}" for seq in _exported_seqs(sessions)
    ]


def test_only_known_sink_forms_are_accepted() -> None:
    from vigie.errors import ConfigError

    assert isinstance(sink_from_url("syslog+tls://siem.example:6514"), SyslogSink)
    for bad in ("http://siem.example", "syslog+tcp://siem.example", "file://"):
        with pytest.raises(ConfigError):
            sink_from_url(bad)


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA), and its key."""
    from datetime import UTC, datetime, timedelta
    from ipaddress import IPv4Address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "siem.example")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "siem.pem", directory / "siem.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_syslog_over_tls_checks_the_siems_certificate(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _story(sessions, "lingua")
    cert, key = _certificate(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    port = free_port()
    untrusted = sink_from_url(f"syslog+tls://127.0.0.1:{port}")
    trusted = sink_from_url(f"syslog+tls://127.0.0.1:{port}?ca={cert}")
    with receiving(port, server) as receiver:
        with pytest.raises(ssl.SSLError):  # a SIEM the system's CAs do not vouch for
            push(sessions, untrusted)
        assert push(sessions, trusted).sent == len(_exported_seqs(sessions))
    uids = [e["metadata"]["uid"] for e in receiver.events()]  # type: ignore[index]
    assert uids == [f"vigie-audit-{seq}" for seq in _exported_seqs(sessions)]
