"""Canary trips: someone contacted a canary, so data that held it is out and in use.

A canary is a synthetic person; nobody has any reason to write to its e-mail address
or call its number except someone holding a copy of data it was disclosed in. A trip
is reported by hand (``vigie canary trip --contact VALUE``) or by the mail or SMS
gateway that receives messages to canary contacts, through the webhook
``POST /hooks/canary`` (router from :func:`make_router`, authenticated by a bearer token
derived from the instance secret: ``vigie canary webhook-secret``).

:func:`trip` finds the canary (:func:`vigie.fingerprint.canaries.lookup_contact`), the
processors that were assigned it or received it (the audit served index), records the
trip, audits it (``canary:trip``), and raises a **critical** alert per processor
(suspension of the processor, an incident with the evidence). A canary that no
processor ever received points at the controller's own side: one alert, no processor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit import index, trail
from vigie.audit.actions import Action
from vigie.audit.anchors import Bound
from vigie.audit.evidence import require_verified
from vigie.audit.keyring import AuditKeys
from vigie.audit.models import to_us
from vigie.detection.alerts import raise_alert
from vigie.detection.canary import TRIP_DETECTOR
from vigie.detection.findings import Severity
from vigie.detection.models import CanaryTrip
from vigie.detection.notify import Notifier, NullNotifier, deliver_pending
from vigie.errors import IntegrityError, InvalidInput, NotFound
from vigie.fingerprint.canaries import lookup_contact
from vigie.gateway.problems import NOT_FOUND, UNAUTHENTICATED, UNAVAILABLE, VALIDATION, problem
from vigie.ops.webhooks import PURPOSES, TOKEN_LENGTH, active_keys, token_matches
from vigie.processors.models import Processor
from vigie.secrets import InstanceSecrets
from vigie.store.base import utcnow

MAX_SOURCE = 200


@dataclass(frozen=True)
class TripResult:
    """What a trip found and did."""

    trip_ids: tuple[int, ...]
    canaries: tuple[str, ...]  # the canaries' refs (synthetic people)
    channel: str  # "email" or "phone"
    processors: tuple[str, ...]  # names of the processors that had the canary
    alert_ids: tuple[int, ...]
    received_by: tuple[str, ...] = ()  # those of them the gateway disclosed it to

    def as_dict(self) -> dict[str, Any]:
        """JSON form (no contact value: the caller already has it)."""
        return {
            "trip_ids": list(self.trip_ids),
            "canaries": list(self.canaries),
            "channel": self.channel,
            "processors": list(self.processors),
            "received_by": list(self.received_by),
            "alert_ids": list(self.alert_ids),
        }


def _holders(session: Session, *, subject_id: int, assigned: tuple[int, ...]) -> dict[int, Any]:
    """Processor id -> (first_seq, last_seq) of what it received (None if only assigned)."""
    holders: dict[int, Any] = dict.fromkeys(assigned)
    for receipt in index.recipients(session, subject_ids=[subject_id]):
        holders[receipt.processor_id] = (receipt.first_seq, receipt.last_seq)
    return holders


def trip(
    session: Session,
    *,
    contact: str,
    actor: str,
    public_key: AuditKeys,
    bound: Bound,
    source: str | None = None,
    now: datetime | None = None,
) -> TripResult:
    """Record that ``contact`` (a canary's e-mail or phone) was contacted, and alert.

    Every processor that received the canary through the gateway gets a critical alert
    (it is suspended); one that only had it assigned gets a low one (named, not
    suspended); when no processor ever had it, one critical alert names nobody: the
    leak is on the controller's side.

    Raises :class:`NotFound` when no canary has or had that contact, and
    :class:`IntegrityError` (nothing recorded) when the audit trail or its served index,
    which say who received the canary, do not verify with ``public_key``, or when more of
    the trail than ``bound`` allows is not anchored by a signed checkpoint.
    """
    if not contact.strip():
        raise InvalidInput("a contact (e-mail address or phone number) is required")
    hits = lookup_contact(session, value=contact)
    if not hits:
        raise NotFound("no canary has this contact")
    require_verified(
        session, public_key=public_key, bound=bound, purpose="attribution of the canary trip"
    )
    at = now or utcnow()
    source = " ".join((source or "").split())[:MAX_SOURCE] or None
    trip_ids: list[int] = []
    alert_ids: list[int] = []
    names: dict[int, str] = {}
    received_names: set[str] = set()
    for hit in hits:
        holders = _holders(session, subject_id=hit.subject_id, assigned=hit.processor_ids)
        row = CanaryTrip(
            at=at,
            subject_id=hit.subject_id,
            channel=hit.kind,
            source=source,
            processor_ids=sorted(holders),
            alert_ids=[],
        )
        session.add(row)
        session.flush()
        trail.append(
            session,
            action=Action.CANARY_TRIP,
            actor=actor,
            subject_ids=[hit.subject_id],
            detail={"trip_id": row.id, "channel": hit.kind, "processors": sorted(holders)},
            at=at,
        )
        raised: list[int] = []
        targets: list[int | None] = [*sorted(holders)] or [None]
        for processor_id in targets:
            received = holders.get(processor_id) if processor_id is not None else None
            evidence: dict[str, Any] = {
                "trip_id": row.id,
                "canary_ref": hit.ref,
                "channel": hit.kind,
                "received": received is not None,
            }
            if received is not None:
                evidence["audit_seq_from"], evidence["audit_seq_to"] = received
            if processor_id is None:
                summary = f"canary {hit.ref} contacted by {hit.kind}; no processor ever had it"
            else:
                processor = session.get(Processor, processor_id)
                names[processor_id] = processor.name if processor else str(processor_id)
                if received is not None:
                    received_names.add(names[processor_id])
                summary = (
                    f"canary {hit.ref} contacted by {hit.kind}; "
                    f"{'disclosed to' if received else 'assigned to'} {names[processor_id]}"
                )
            alert = raise_alert(
                session,
                detector=TRIP_DETECTOR,
                # Only a processor that received the canary can have leaked it through
                # Vigie: it is contained at once. One that merely had it assigned is named
                # (it may hold the person by other means) without being suspended.
                severity=Severity.CRITICAL if received or processor_id is None else Severity.LOW,
                processor_id=processor_id,
                key_id=None,
                summary=summary,
                evidence=evidence,
                actor=actor,
                now=at,
            )
            raised.append(alert.id)
        row.alert_ids = raised
        alert_ids.extend(raised)
        trip_ids.append(row.id)
    session.flush()
    return TripResult(
        trip_ids=tuple(trip_ids),
        canaries=tuple(h.ref for h in hits),
        channel=hits[0].kind,
        processors=tuple(names[p] for p in sorted(names)),
        alert_ids=tuple(alert_ids),
        received_by=tuple(sorted(received_names)),
    )


def list_trips(session: Session, *, limit: int = 100) -> list[CanaryTrip]:
    """Recorded trips, newest first."""
    return list(session.scalars(select(CanaryTrip).order_by(CanaryTrip.id.desc()).limit(limit)))


def webhook_token(secrets: InstanceSecrets) -> str:
    """The bearer token the canary webhook accepts (derived from the instance secret)."""
    return secrets.derive(PURPOSES["canary"], TOKEN_LENGTH).hex()


class TripReport(BaseModel):
    """A message reached a canary contact."""

    contact: str = Field(min_length=3, max_length=254, description="E-mail or phone contacted.")
    source: str | None = Field(
        None, max_length=MAX_SOURCE, description="Who saw it (e.g. the mail gateway's name)."
    )


def make_router(
    *,
    sessions: sessionmaker[Session],
    secrets: InstanceSecrets,
    bound: Bound,
    notifier: Notifier | None = None,
    clock: Callable[[], datetime] = utcnow,
    overlap_seconds: float = 0.0,
) -> APIRouter:
    """The ``POST /hooks/canary`` endpoint, for the gateway to mount (``include_router``).

    It accepts the current token and, for ``overlap_seconds`` after a rotation, the
    previous one (:mod:`vigie.ops.webhooks`).
    """
    chosen = notifier or NullNotifier()
    router = APIRouter(prefix="/hooks", tags=["hooks"])

    @router.post(
        "/canary",
        status_code=202,
        summary="Report a message that reached a canary contact",
        responses={401: {}, 404: {}, 422: {}},
    )
    def canary_trip(
        report: TripReport, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        """A message reached a canary's e-mail address or phone number: record the trip and
        raise a critical alert on every processor that had the canary.

        Needs `Authorization: Bearer <token>` (`vigie canary webhook-secret`)."""
        scheme, _, token = (authorization or "").partition(" ")
        accepted = active_keys(
            secrets,
            PURPOSES["canary"],
            now_us=to_us(clock()),
            overlap_seconds=overlap_seconds,
            length=TOKEN_LENGTH,
        )
        if scheme.lower() != "bearer" or not token_matches(token.strip(), accepted):
            return problem(UNAUTHENTICATED, "a valid canary webhook token is required")
        try:
            with sessions.begin() as session:
                result = trip(
                    session,
                    contact=report.contact,
                    source=report.source,
                    actor="system:canary-webhook",
                    public_key=secrets.audit_keys,
                    bound=bound,
                    now=clock(),
                )
        except NotFound as exc:
            return problem(NOT_FOUND, str(exc))
        except IntegrityError as exc:  # the sender retries; an operator must look first
            return problem(UNAVAILABLE, str(exc))
        except InvalidInput as exc:
            return problem(VALIDATION, str(exc))
        if not isinstance(chosen, NullNotifier):  # a failure stays on the alert, retried later
            with sessions.begin() as session:
                deliver_pending(session, notifier=chosen)
        return Response(
            orjson.dumps(result.as_dict()), status_code=202, media_type="application/json"
        )

    return router
