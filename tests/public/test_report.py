""" "Who saw my file?": a one-time link sent to the contact on file, a report that matches
the trail line for line, each line with an inclusion proof that checks."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.policy import default

from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.public.conftest import Public
from vigie.audit.actions import Action
from vigie.audit.canonical import decode_subjects
from vigie.audit.models import AuditEvent
from vigie.audit.proofs import check_inclusion
from vigie.cli.app import app as cli
from vigie.cli.context import Instance
from vigie.jobs.models import Job
from vigie.public.disclosures import disclosure_report, line_proof
from vigie.public.models import ReportRequest

GRACE = "grace.mensah@example.org"  # index 1, English, exposed by the incident
NOBODY = "nobody@example.org"
LINK = re.compile(r"https?://\S+(/report/[A-Za-z0-9_-]+)")


def _ask(public: Public, contact: str, lang: str = "en") -> tuple[int, str]:
    with public.client() as c:
        r = c.post("/my-file", data={"contact": contact, "lang": lang})
    return r.status_code, r.text


def _link(public: Public) -> str:
    ((_, rcpt, data),) = public.sink.messages
    assert rcpt == [GRACE]
    mail = message_from_bytes(data, policy=default)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = LINK.search(text)
    assert found, text
    return found.group(1)


def _trail_lines(public: Public, subject_id: int) -> set[tuple[date, int, tuple[str, ...]]]:
    """What the trail itself says the person was disclosed: (day, processor, fields)."""
    out = set()
    with public.sessions() as s:
        for e in s.scalars(select(AuditEvent).where(AuditEvent.processor_id.is_not(None))):
            if e.outcome != "ok" or e.action not in ("subject:read", "subject:list"):
                continue
            if subject_id in decode_subjects(bytes(e.subjects)):
                day = datetime.fromtimestamp(e.at_us / 1e6, tz=UTC).date()
                out.add((day, e.processor_id, tuple(e.fields.split(","))))
    return out


def test_known_and_unknown_contacts_get_the_same_page(
    public: Public, disclosed: dict[str, int]
) -> None:
    known = _ask(public, GRACE)
    unknown = _ask(public, NOBODY)
    assert known == unknown
    assert known[0] == 200 and "a message has been sent to it" in known[1]
    public.drain()
    assert len(public.sink.messages) == 1  # only the contact on file got a message


def test_the_request_is_queued_with_the_contact_sealed(public: Public) -> None:
    _ask(public, GRACE)
    with public.sessions() as s:
        (job,) = s.scalars(select(Job).where(Job.kind == "public.report"))
    assert GRACE not in json.dumps(job.params)
    assert job.state == "queued"  # survives the listener: a worker answers it later
    public.drain()
    with public.sessions() as s:
        assert s.get(Job, job.id).state == "done"  # type: ignore[union-attr]
    assert len(public.sink.messages) == 1


def test_the_link_opens_once_and_the_report_matches_the_trail(
    public: Public, disclosed: dict[str, int]
) -> None:
    _ask(public, GRACE)
    public.drain()
    path = _link(public)
    with public.client() as c:
        button = c.get(path)
        assert button.status_code == 200 and "Show my report" in button.text
        assert c.get(path).status_code == 200  # looking does not spend it
        report = c.post(path, data={"lang": "en"})
        again = c.post(path, data={"lang": "en"})
    assert report.status_code == 200
    assert again.status_code == 404 and "This link does not work" in again.text
    rows = re.findall(r'<tr class="line" data-seqs="([0-9,]+)"', report.text)
    assert len(rows) == 2
    grace = public.subject_ids[1]
    seen = set()
    with public.sessions() as s:
        for seqs in rows:
            first = s.get(AuditEvent, int(seqs.split(",")[0]))
            assert first is not None
            day = datetime.fromtimestamp(first.at_us / 1e6, tz=UTC).date()
            seen.add((day, first.processor_id, tuple(first.fields.split(","))))
    assert seen == _trail_lines(public, grace)
    assert "Lingua SAS (fictitious)" in report.text and "REF-lingua" in report.text
    assert "In a known leak" in report.text  # civic's line: the incident attributed to it
    assert "February 3, 2026" in report.text  # the day, never the time
    assert "09:30" not in report.text


def test_each_line_has_an_inclusion_proof_that_checks(
    public: Public, disclosed: dict[str, int]
) -> None:
    with public.sessions() as s:
        report = disclosure_report(s, subject_id=public.subject_ids[1])
        assert len(report.lines) == 2 and all(line.seqs for line in report.lines)
        for line in report.lines:
            proof = line_proof(s, line)
            check_inclusion(proof, public_key=public.secrets.verify_key)
            assert proof.event is not None
            assert proof.event["processor_id"] == line.processor_id
            assert tuple(proof.event["fields"]) == line.fields
            assert public.subject_ids[1] in proof.event["subjects"]
    assert [line.contracts for line in report.lines] == [("REF-lingua",), ("REF-civic",)]


def test_an_expired_link_does_not_open(public: Public, disclosed: dict[str, int]) -> None:
    _ask(public, GRACE)
    public.drain()
    path = _link(public)
    with public.sessions.begin() as s:
        s.execute(update(ReportRequest).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    with public.client() as c:
        assert c.get(path).status_code == 404
        assert c.post(path, data={"lang": "en"}).status_code == 404
        assert c.post("/report/not-a-real-token", data={"lang": "en"}).status_code == 404


def test_requests_and_deliveries_are_audited_and_listed(
    public: Public, disclosed: dict[str, int]
) -> None:
    _ask(public, GRACE)
    _ask(public, NOBODY)
    public.drain()
    path = _link(public)
    with public.client() as c:
        c.post(path, data={"lang": "en"})
    with public.sessions() as s:
        asked = [
            json.loads(e.detail or "{}")
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.action == Action.PUBLIC_REPORT_REQUEST.value)
            )
        ]
        (delivered,) = s.scalars(
            select(AuditEvent).where(AuditEvent.action == Action.PUBLIC_REPORT_DELIVER.value)
        )
    assert sorted(d["people"] for d in asked) == [0, 1]
    assert decode_subjects(bytes(delivered.subjects)) == [public.subject_ids[1]]
    assert json.loads(delivered.detail or "{}")["lines"] == 2
    instance = Instance(settings=public.settings, _engine=public.engine)
    result = CliRunner().invoke(cli, ["requests", "list", "--json"], obj=instance)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)
    assert row["ref"] == "CIR-2025-000002" and row["opened_at"] and row["channel"] == "email"
    assert GRACE not in result.output


def test_report_links_share_the_daily_cap_per_contact(public: Public) -> None:
    for _ in range(5):
        _ask(public, GRACE)
    public.drain()
    assert len(public.sink.messages) == 3  # public_messages_per_contact: 3/day
