""" "Was I affected?": the same page for every contact; the answer goes only to the contact."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default

from sqlalchemy import select

from tests.public.conftest import ACTOR, Public, open_incident
from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.breach import channels as ch
from vigie.breach.clock import FixedClock
from vigie.breach.codes import code_key, make_code
from vigie.public.app import create_app
from vigie.public.limiter import Limiter
from vigie.settings import Settings

GRACE = "grace.mensah@example.org"  # affected (index 1, English)
JOAO = "joao.silva@example.org"  # on file, not affected (index 10, Portuguese)
NOBODY = "nobody@example.org"


def _mails(public: Public) -> list[tuple[list[str], object]]:
    return [
        (rcpt, message_from_bytes(data, policy=default)) for _, rcpt, data in public.sink.messages
    ]


def _page(public: Public, contact: str) -> tuple[int, str]:
    with public.client() as c:
        r = c.post("/self-check", data={"contact": contact, "lang": "en"})
    public.drain()
    return r.status_code, r.text


def test_known_and_unknown_contacts_get_the_same_page(public: Public) -> None:
    known = _page(public, GRACE)
    unknown = _page(public, NOBODY)
    unaffected = _page(public, JOAO)
    assert known == unknown == unaffected
    assert known[0] == 200 and "a message has been sent to it" in known[1]
    assert GRACE not in known[1]


def test_an_affected_person_gets_the_notice_with_a_code_that_verifies(public: Public) -> None:
    _page(public, "  Grace.Mensah@EXAMPLE.org ")  # typed loosely: the domain's case is folded
    mails = _mails(public)
    assert [rcpt for rcpt, _ in mails] == [[GRACE]]
    mail = mails[0][1]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    code = public.code(1)
    assert code in text and "nationality" in text.lower()
    with public.client() as c:
        verdict = c.post("/json/verify", json={"code": code}).json()
    assert verdict["genuine"] is True


def test_someone_on_file_but_not_affected_is_told_so_at_their_address(public: Public) -> None:
    _page(public, JOAO)
    ((rcpt, mail),) = _mails(public)
    assert rcpt == [JOAO]
    assert mail["Content-Language"] is None or "pt" in mail["Content-Language"]  # type: ignore[index]
    html = mail.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    assert 'lang="pt"' in html


def test_an_unknown_contact_gets_nothing(public: Public) -> None:
    _page(public, NOBODY)
    _page(public, "+33699999999")
    assert public.sink.messages == []
    outbox = ch.outbox_dir(public.settings) / "sms-self-check.jsonl"
    assert not outbox.exists()


def test_a_phone_number_gets_its_answer_by_sms(public: Public) -> None:
    _page(public, "06 12 34 56 02")  # Grace's phone, typed the French way
    outbox = ch.outbox_dir(public.settings) / "sms-self-check.jsonl"
    (line,) = [json.loads(x) for x in outbox.read_text().splitlines()]
    assert line["to"] == "+33612345602" and public.code(1) in line["text"]


def test_a_code_first_sent_by_the_self_check_verifies(public: Public, clock: FixedClock) -> None:
    second = open_incident(public.sessions, [public.subject_ids[10]], clock)  # no notices sent
    code = make_code(
        code_key(public.secrets), incident_id=second, subject_id=public.subject_ids[10]
    )
    with public.client() as c:
        assert c.post("/json/verify", json={"code": code}).json()["genuine"] is False
    _page(public, JOAO)
    ((_, mail),) = _mails(public)
    assert code in mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    with public.client() as c:
        verdict = c.post("/json/verify", json={"code": code, "incident": second}).json()
    assert verdict["genuine"] is True and verdict["notices"][0]["channels"] == ["email"]
    assert ACTOR  # the incident was opened by an operator, as in the breach tests


def test_messages_to_one_contact_are_capped_per_day(public: Public, settings: Settings) -> None:
    capped = settings.model_copy(
        update={
            "smtp_port": public.settings.smtp_port,
            "public_messages_per_contact": "2/day",
            "public_rate_per_address": "1000/minute",
            "public_rate_global": "1000/second",
        }
    )
    app = create_app(
        capped, engine=public.engine, secrets=public.secrets, limiter=Limiter.from_settings(capped)
    )
    other = Public(**{**public.__dict__, "app": app, "settings": capped})
    pages = {_page(other, GRACE) for _ in range(5)}
    assert len(pages) == 1  # the page never says the cap was reached
    assert len(public.sink.messages) == 2
    with public.sessions() as s:
        outcomes = list(
            s.scalars(
                select(AuditEvent.outcome).where(
                    AuditEvent.action == Action.PUBLIC_SELF_CHECK.value
                )
            )
        )
    assert outcomes == ["ok", "ok", "capped", "capped", "capped"]


def test_each_self_check_is_audited_without_the_contact(public: Public) -> None:
    _page(public, GRACE)
    _page(public, NOBODY)
    with public.sessions() as s:
        events = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == Action.PUBLIC_SELF_CHECK.value)
                .order_by(AuditEvent.seq)
            )
        )
    assert len(events) == 2
    dumped = [json.dumps([e.actor, e.detail, e.origin]) for e in events]
    assert all("example.org" not in d and "grace" not in d.lower() for d in dumped)
    known, unknown = (json.loads(e.detail) for e in events)
    assert known["people"] == 1 and len(known["messages"]) == 1
    assert unknown["people"] == 0 and unknown["messages"] == []


def test_self_checks_are_rate_limited_per_address_and_overall(
    public: Public, settings: Settings
) -> None:
    tight = settings.model_copy(
        update={"public_rate_per_address": "2/minute", "public_rate_global": "4/minute"}
    )
    app = create_app(
        tight,
        engine=public.engine,
        secrets=public.secrets,
        limiter=Limiter.from_settings(tight),
    )
    other = Public(**{**public.__dict__, "app": app})
    body = {"contact": NOBODY}
    with other.client("203.0.113.1") as c:
        first = [c.post("/json/self-check", json=body).status_code for _ in range(3)]
    with other.client("203.0.113.2") as c:
        second = [c.post("/json/self-check", json=body).status_code for _ in range(2)]
    assert first == [202, 202, 429]  # the address's limit
    assert second == [202, 429]  # the service's limit (4, refused ones too), whatever the address


def test_not_a_contact_is_a_form_error_that_depends_only_on_what_was_typed(public: Public) -> None:
    with public.client() as c:
        page = c.post("/self-check", data={"contact": "hello", "lang": "en"})
        api = c.post("/json/self-check", json={"contact": "hello"})
    assert page.status_code == 400 and 'href="#contact"' in page.text
    assert api.status_code == 400 and api.headers["content-type"] == "application/problem+json"
