"""The public service's background work, on the job queue (:mod:`vigie.jobs`).

A self-check or a disclosure-report request is one job: the page only queues it (one
insert, the same for every contact) and answers at once; a ``vigie worker`` looks the
contact up and sends. Queued in the store, a request survives a restart of the listener
or of the worker. The job's parameters carry the contact sealed
(:func:`vigie.public.contacts.seal_contact`), never in clear; its result holds counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from vigie.breach.channels import Channel
from vigie.jobs.context import JobContext
from vigie.jobs.models import Job
from vigie.jobs.queue import job_row, push_rows
from vigie.public.contacts import Contact, open_contact, seal_contact
from vigie.public.selfcheck import ACTOR
from vigie.secrets import InstanceSecrets
from vigie.store.base import utcnow

SELF_CHECK = "public.self-check"
REPORT = "public.report"


def job(
    *,
    kind: str,
    contact: Contact,
    lang: str | None,
    secrets: InstanceSecrets,
    delivery: str = "link",
) -> dict[str, Any]:
    """The queued job of a request of ``kind`` for ``contact`` (its row, contact sealed). A
    report request with ``delivery="letter"`` is printed to the postal address on file."""
    params = {"contact": seal_contact(secrets, contact), "lang": lang or ""}
    if delivery == "letter":
        params["delivery"] = "letter"
    return job_row(kind=kind, params=params, actor=ACTOR)


def submit(
    session: Session,
    *,
    kind: str,
    contact: Contact,
    lang: str | None,
    secrets: InstanceSecrets,
    delivery: str = "link",
) -> None:
    """Queue a request of ``kind`` for ``contact`` (the caller commits)."""
    push_rows(
        session, [job(kind=kind, contact=contact, lang=lang, secrets=secrets, delivery=delivery)]
    )


_INSERT = insert(Job)  # on a Core connection: the table's plain INSERT


def write(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Queue the jobs ``rows`` (of :func:`job`) in one ``INSERT`` (executemany) on a Core
    connection: the public listener's group commit (:mod:`vigie.public.group_commit`).
    Through an ORM session the same insert (the unit of work, the bulk-insert planning)
    cost the writer thread about three times as much, on the GIL the event loop needs."""
    if rows:
        connection.execute(_INSERT, list(rows))


def _channels(ctx: JobContext) -> Mapping[str, Channel]:
    from vigie.public.selfcheck import channels_from_settings

    return channels_from_settings(ctx.settings)


def _close(channels: Mapping[str, Channel]) -> None:
    for channel in channels.values():
        channel.close()


def run_self_check(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Answer "was I affected?" at the contact on file of each person who has it."""
    from vigie.public.caps import per_contact
    from vigie.public.selfcheck import Composer, answer

    contact = open_contact(ctx.secrets, str(params["contact"]))
    channels = _channels(ctx)
    try:
        with ctx.sessions() as session:
            done = answer(
                session,
                contact=contact,
                composer=Composer(ctx.settings, ctx.secrets),
                channels=channels,
                secrets=ctx.secrets,
                cap=per_contact(ctx.settings),
                now=utcnow,
            )
    finally:
        _close(channels)
    return {"people": done.people, "sent": done.sent, "capped": done.capped}


def run_report(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    """Send each person whose contact on file is the one asked a link to their report (or
    print it as a letter to their postal address, when they asked for one)."""
    from vigie.public.report_letters import ReportLetters
    from vigie.public.report_links import send_report_links

    def letters() -> ReportLetters:
        return ReportLetters.from_settings(ctx.settings)

    contact = open_contact(ctx.secrets, str(params["contact"]))
    channels = _channels(ctx)
    try:
        with ctx.sessions() as session:
            sent = send_report_links(
                session,
                contact=contact,
                lang=str(params.get("lang") or "") or None,
                settings=ctx.settings,
                channels=channels,
                secrets=ctx.secrets,
                now=utcnow,
                letters=letters if params.get("delivery") == "letter" else None,
            )
    finally:
        _close(channels)
    return {"people": sent.people, "sent": sent.sent, "capped": sent.capped}
