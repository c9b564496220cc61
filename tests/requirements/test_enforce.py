"""Enforcement with a clock: warnings before the deadline, consequences after, once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import AuditEvent
from vigie.errors import Denied
from vigie.processors.apply import apply_file as apply_processors
from vigie.processors.directory import get_processor
from vigie.processors.keys import issue_key, revoke_key
from vigie.processors.models import Contract
from vigie.requirements.enforce import enforce

from .conftest import ACTOR, LATER, NOW, PROCESSORS_YAML, STATEMENT_PUB, Invoke


def _did(done: list) -> set[tuple[str, str, str]]:  # type: ignore[type-arg]
    return {(d.processor, d.requirement, d.action) for d in done}


@pytest.fixture
def keyed(baseline: sessionmaker[Session]) -> int:
    """bad-test holds a key with no allow-list; returns its id."""
    with baseline.begin() as s:
        issue_key(s, processor="good-test", actor=ACTOR, allowed_cidrs=["192.0.2.0/24"], now=NOW)
        return issue_key(s, processor="bad-test", actor=ACTOR, now=NOW).key_id


def test_before_the_deadline_only_warnings_once(
    baseline: sessionmaker[Session], keyed: int
) -> None:
    with baseline.begin() as s:
        done = enforce(s, now=NOW + timedelta(days=1))
    assert _did(done) == {
        ("bad-test", "key-allow-list", "warn"),
        ("bad-test", "budget-ratio", "warn"),
        ("bad-test", "contacts", "warn"),
        ("bad-test", "mfa", "warn"),
        ("good-test", "mfa", "warn"),
    }
    with baseline.begin() as s:
        assert enforce(s, now=NOW + timedelta(days=2)) == []
        assert get_processor(s, name="bad-test").suspended_at is None
        warns = s.scalars(select(AuditEvent).where(AuditEvent.action == "requirement:warn"))
        assert len(list(warns)) == 5


def test_after_the_deadline_each_consequence_applies_once_with_its_reason(
    baseline: sessionmaker[Session], keyed: int
) -> None:
    with baseline.begin() as s:
        done = enforce(s, now=LATER)
    assert _did(done) == {
        ("bad-test", "key-allow-list", "refuse_new_keys"),
        ("bad-test", "budget-ratio", "reduce_budget"),
        ("bad-test", "contacts", "suspend"),
        ("bad-test", "mfa", "warn"),
        ("good-test", "mfa", "warn"),
    }
    with baseline.begin() as s:
        bad = get_processor(s, name="bad-test")
        assert bad.suspended_at is not None
        assert (bad.suspended_reason or "").startswith("requirement contacts v1 not met since")
        assert "no 24/7 security contact" in (bad.suspended_reason or "")
        assert "requirement key-allow-list v1" in (bad.new_keys_refused or "")
        civic = s.scalar(select(Contract).where(Contract.name == "civic"))
        assert civic is not None
        assert (civic.budget_per_day, civic.budget_per_30_days) == (200, 2000)
        good = s.scalar(select(Contract).where(Contract.name == "language"))
        assert good is not None and good.budget_per_day == 50
        actions = [
            a
            for a in s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))
            if a.startswith(("requirement:enforce", "processor:suspend", "contract:update"))
        ]
        assert sorted(actions) == [
            "contract:update", "processor:suspend", "requirement:enforce",
            "requirement:enforce", "requirement:enforce",
        ]  # fmt: skip
    with baseline.begin() as s, pytest.raises(Denied, match="requirement key-allow-list v1"):
        issue_key(s, processor="bad-test", actor=ACTOR, now=LATER)
    with baseline.begin() as s:
        assert enforce(s, now=LATER + timedelta(hours=1)) == []


def test_a_restored_budget_is_reduced_again_and_a_refusal_is_lifted_when_met(
    baseline: sessionmaker[Session], keyed: int, tmp_path: Path
) -> None:
    with baseline.begin() as s:
        enforce(s, now=LATER)
    path = tmp_path / "processors.yaml"
    path.write_text(PROCESSORS_YAML.replace("{statement_key}", STATEMENT_PUB))
    with baseline.begin() as s:
        apply_processors(s, path=path, actor=ACTOR)  # the file still says 400/day
        civic = s.scalar(select(Contract).where(Contract.name == "civic"))
        assert civic is not None and civic.budget_per_day == 400
    with baseline.begin() as s:
        again = enforce(s, now=LATER + timedelta(hours=1))
        assert _did(again) == {("bad-test", "budget-ratio", "reduce_budget")}
        civic = s.scalar(select(Contract).where(Contract.name == "civic"))
        assert civic is not None and civic.budget_per_day == 200
    with baseline.begin() as s:
        revoke_key(s, key_id=keyed, actor=ACTOR, now=LATER)
    with baseline.begin() as s:
        lifted = enforce(s, now=LATER + timedelta(hours=2))
        assert _did(lifted) == {("bad-test", "", "lift")}
        assert get_processor(s, name="bad-test").new_keys_refused is None


def test_warnings_are_mailed_in_french_to_each_warned_provider(
    baseline: sessionmaker[Session], keyed: int, tmp_path: Path
) -> None:
    import email
    import mailbox
    from email.policy import default

    from vigie.breach.channels import SmtpChannel
    from vigie.demo.mailsink import MailSink
    from vigie.requirements.enforce import warn_by_mail

    at = NOW + timedelta(days=1)
    with baseline.begin() as s:
        done = enforce(s, now=at)
    with MailSink(tmp_path / "mail") as sink:
        channel = SmtpChannel(host="127.0.0.1", port=sink.port, mail_from="dpo@ofii.example")
        sent = warn_by_mail(baseline, done=done, channel=channel, controller="OFII (test)", now=at)
    assert sent == 2
    box = mailbox.Maildir(str(tmp_path / "mail"), create=False)
    mails = {m["To"]: m for m in (email.message_from_bytes(x.as_bytes(), policy=default)
                                  for x in box)}  # fmt: skip
    assert set(mails) == {"dpo@good.example", "dpo@bad.example"}
    body = mails["dpo@bad.example"].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Vous ne satisfaites pas encore" in text
    assert "refus de toute nouvelle clé d'API" in text and "no 24/7 security contact" in text


def test_enforce_command(cli: Invoke, baseline: sessionmaker[Session], keyed: int) -> None:
    first = cli(["requirements", "enforce"])
    assert first.exit_code == 0, first.output
    assert "bad-test: warn contacts v1" in first.output
    again = cli(["requirements", "enforce", "bad-test"])
    assert "Nothing to do" in again.output
