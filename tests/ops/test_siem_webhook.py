"""The SIEM's signed webhook: receiver down for a while, then every event once, signed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.gateway.serving import free_port
from vigie.detection.notify import SIGNATURE_HEADER, check_signature
from vigie.ops.siem import push, sinks_from_settings
from vigie.ops.siem_webhook import WebhookSink
from vigie.ops.webhooks import PURPOSES
from vigie.secrets import InstanceSecrets, Secret
from vigie.settings import Settings

from .test_siem import _cursor, _exported_seqs, _story


class Receiver:
    """An HTTP receiver on loopback that checks signatures and can be told to fail."""

    def __init__(self, port: int, key: Secret) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.bad_signatures = 0
        self.fail_next = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not check_signature([key], body, self.headers[SIGNATURE_HEADER]):
                    outer.bad_signatures += 1
                    self.send_response(401)
                elif outer.fail_next:  # read it all, then fail: the sender must send it again
                    outer.fail_next -= 1
                    self.send_response(503)
                else:
                    outer.batches.append(orjson.loads(body)["events"])
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def uids(self) -> list[str]:
        return [e["metadata"]["uid"] for batch in self.batches for e in batch]


@contextmanager
def receiving(port: int, key: Secret) -> Iterator[Receiver]:
    receiver = Receiver(port, key)
    try:
        yield receiver
    finally:
        receiver.close()


def test_webhook_down_for_a_while_then_every_event_arrives_once(
    sessions: sessionmaker[Session], settings: Settings, secrets: InstanceSecrets
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/siem"
    configured = settings.model_copy(update={"siem_webhook_url": url})
    [sink] = sinks_from_settings(configured, secrets)
    assert isinstance(sink, WebhookSink)
    key = Secret(secrets.derive(PURPOSES["siem"]))

    _story(sessions, "lingua")
    for _ in range(2):  # nobody listens: the SIEM is down, nothing acknowledged, nothing lost
        with pytest.raises(OSError):
            push(sessions, sink, batch=4)
        assert not _cursor(sessions, sink.name)
    _story(sessions, "cours-plus")  # more happens while it is down

    with receiving(port, key) as receiver:
        receiver.fail_next = 1  # it comes back, but drops the first batch it reads
        with pytest.raises(OSError):
            push(sessions, sink, batch=4)
        assert not _cursor(sessions, sink.name)
        report = push(sessions, sink, batch=4)
        _story(sessions, "forma")
        later = push(sessions, sink, batch=4)
        assert push(sessions, sink, batch=4).sent == 0  # nothing owed

    expected = [f"vigie-audit-{seq}" for seq in _exported_seqs(sessions)]
    assert receiver.bad_signatures == 0
    assert receiver.uids() == expected  # every event, in order, no duplicate by event id
    assert len(set(receiver.uids())) == len(expected) == report.sent + later.sent > 12
    assert _cursor(sessions, sink.name) == later.last_seq
    raw = orjson.dumps(receiver.batches)
    assert b"Amina" not in raw and b'"subjects"' not in raw


def test_webhook_refused_signature_keeps_the_events(
    sessions: sessionmaker[Session], secrets: InstanceSecrets
) -> None:
    port = free_port()
    wrong = WebhookSink(f"http://127.0.0.1:{port}/siem", [Secret(b"not the key" * 3)])
    _story(sessions, "lingua")
    key = Secret(secrets.derive(PURPOSES["siem"]))
    with receiving(port, key) as receiver, pytest.raises(OSError, match="HTTP 401"):
        push(sessions, wrong)
    assert receiver.bad_signatures == 1 and receiver.batches == []
    assert not _cursor(sessions, wrong.name)
