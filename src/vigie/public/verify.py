"""Is a notice genuine? The answer to a verification code, and nothing about the person.

A code is found by its look-up tag (:func:`vigie.breach.codes.code_tag`) among the
notices the delivery log marks ``sent`` and the messages the self-check sent. A genuine
code answers which incident, on which day and through which channels; a wrong code of
any kind (malformed, unknown, right code with the wrong incident number) raises the same
:class:`NotGenuine` after the same look-up.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import BindParameter, CompoundSelect, Engine, bindparam, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from vigie.breach.codes import code_tag, tag_key
from vigie.breach.models import NoticeDelivery
from vigie.errors import Denied
from vigie.public.models import PublicMessage
from vigie.secrets import InstanceSecrets
from vigie.store.engine import is_sqlite

CHANNELS = ("email", "sms", "letter")


def _by_tag() -> CompoundSelect[Any]:
    # Built once, on the tables (no ORM entity to compile per request): the look-up of
    # every request, whatever the code, with the tag as its one parameter.
    deliveries, messages = NoticeDelivery.__table__.c, PublicMessage.__table__.c
    tag: BindParameter[str] = bindparam("tag")
    return union_all(
        select(deliveries.incident_id, deliveries.channel, deliveries.attempt_at).where(
            deliveries.code_tag == tag, deliveries.status == "sent"
        ),
        select(messages.incident_id, messages.channel, messages.sent_at).where(
            messages.code_tag == tag, messages.incident_id.is_not(None)
        ),
    )


_BY_TAG = _by_tag()


class NotGenuine(Denied):
    """No notice sent by the controller bears this code (for this incident)."""


@dataclass(frozen=True)
class GenuineNotice:
    """A notice the controller sent: its incident, the first day it was sent, its channels."""

    incident_id: int
    sent_on: date
    channels: tuple[str, ...]


def verify_notice(
    session: Session | Connection,
    secrets: InstanceSecrets,
    *,
    code: str,
    incident_id: int | None = None,
) -> list[GenuineNotice]:
    """The notices that bear ``code`` (of incident ``incident_id`` when given); raise if none."""
    tag = code_tag(tag_key(secrets), code)
    return notices_of(list(session.execute(_BY_TAG, {"tag": tag})), incident_id=incident_id)


Row = Sequence[Any]  # (incident id, channel, when: a datetime, or SQLite's text of one)


def notices_of(rows: Iterable[Row], *, incident_id: int | None = None) -> list[GenuineNotice]:
    """The notices the look-up ``rows`` of a tag show (of ``incident_id`` when given); raise
    :class:`NotGenuine` if none."""
    sent: dict[int, dict[str, date]] = defaultdict(dict)
    for incident, channel, at in rows:
        if incident is None or (incident_id is not None and incident != incident_id):
            continue
        day = at.date() if isinstance(at, datetime) else date.fromisoformat(str(at)[:10])
        known = sent[incident].get(channel)
        sent[incident][channel] = min(day, known) if known else day
    if not sent:
        raise NotGenuine("this code does not match a notice sent by the controller")
    return [
        GenuineNotice(
            incident_id=incident,
            sent_on=min(channels.values()),
            channels=tuple(c for c in CHANNELS if c in channels),
        )
        for incident, channels in sorted(sent.items())
    ]


class TagLookup:
    """The look-up of a code's tag, for the public listener's every verification.

    On SQLite it runs the statement compiled once on a driver connection this thread keeps
    (the verification runs on the event loop there): SQLAlchemy's connection checkout,
    execution context and result wrapping were a third of a verification's cost. A
    statement of one ``SELECT`` needs no transaction: in autocommit, SQLite reads one
    snapshot for it. Elsewhere it goes through the engine (a pool of server connections).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._sql: str | None = None
        if is_sqlite(engine):
            compiled = _BY_TAG.compile(dialect=engine.dialect)
            names = compiled.positiontup or []
            self._sql = str(compiled)
            self._fixed = [compiled.params.get(name) for name in names]
            self._tag_at = [i for i, name in enumerate(names) if name == "tag"]  # each SELECT

    def rows(self, tag: str) -> list[Row]:
        """The delivery log's and the self-check messages' rows of ``tag``."""
        if self._sql is None:
            with self._engine.connect() as connection:
                return list(connection.execute(_BY_TAG, {"tag": tag}))
        params = list(self._fixed)
        for i in self._tag_at:
            params[i] = tag
        held = getattr(self._local, "connection", None)
        if held is None:
            held = self._local.connection = self._engine.raw_connection()
        try:
            cursor = held.cursor()
            try:
                cursor.execute(self._sql, params)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except Exception:
            self._local.connection = None  # a fresh one next time
            held.invalidate()
            raise
