"""The SIEM's signed webhook: the same OCSF events, POSTed as JSON, HMAC-signed.

A sink of :func:`vigie.ops.siem.push` like the syslog and file sinks, so it shares their
outbox (the audit trail) and their at-least-once delivery: its own cursor row moves only
once the receiver answered 2xx. Each POST carries one batch::

    {"type": "vigie.siem", "events": [<OCSF event>, ...]}

signed as the alert webhook is (:func:`vigie.detection.notify.sign_all`):
``X-Vigie-Signature: sha256=<HMAC-SHA256 of the body, hex>`` under the ``siem-webhook``
key (``vigie siem webhook-secret``), both the new and the previous signature during a
rotation's overlap (:mod:`vigie.ops.webhooks`). A batch that did not arrive is sent again
with the same events: receivers dedupe on ``metadata.uid`` (the audit sequence number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from vigie.detection.notify import SIGNATURE_HEADER, sign_all
from vigie.secrets import Secret

TIMEOUT_S = 10.0


@dataclass
class WebhookSink:
    """POSTs each batch of OCSF events to ``url``, signed with ``keys`` (newest first)."""

    url: str
    keys: Sequence[Secret] = field(repr=False)
    transport: httpx.BaseTransport | None = field(default=None, repr=False)
    timeout: float = TIMEOUT_S

    @property
    def name(self) -> str:
        return f"webhook+{self.url}"[:200]

    def send(self, events: Sequence[dict[str, Any]]) -> None:
        """Deliver one batch; raise ``OSError`` unless the receiver answered 2xx."""
        body = orjson.dumps({"type": "vigie.siem", "events": list(events)})
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_all(self.keys, body)}
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
                response = client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise OSError(f"webhook failed: {type(exc).__name__}") from exc
        if not 200 <= response.status_code < 300:
            raise OSError(f"webhook answered HTTP {response.status_code}")
