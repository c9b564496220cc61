"""Campaigns: raise the baseline for all, e-mail each provider in French, follow them."""

from __future__ import annotations

import email
import json
import mailbox
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.breach.channels import SmtpChannel
from vigie.breach.clock import FixedClock
from vigie.demo.mailsink import MailSink
from vigie.errors import InvalidInput
from vigie.processors.directory import get_processor
from vigie.processors.spec import SpecRejected
from vigie.requirements.campaigns import acknowledge, progress, send_notices, start_campaign
from vigie.requirements.models import Campaign, CampaignNotice
from vigie.requirements.spec import parse_requirements
from vigie.settings import Settings

from .conftest import ACTOR, NOW, REQUIREMENTS_YAML, Invoke

RAISED = REQUIREMENTS_YAML.replace(
    "  - id: budget-ratio\n    version: 1", "  - id: budget-ratio\n    version: 2"
).replace("{max_ratio: 5}", "{max_ratio: 3}")


def test_a_campaign_raises_the_baseline_and_mails_each_provider(
    baseline: sessionmaker[Session], tmp_path: Path
) -> None:
    with baseline.begin() as s:
        started = start_campaign(s, parsed=parse_requirements(RAISED), actor=ACTOR, now=NOW)
    assert started.campaign_id is not None and started.providers == 2
    assert [(c.requirement, c.version) for c in started.applied.changes] == [("budget-ratio", 2)]
    with MailSink(tmp_path / "mail") as sink:
        channel = SmtpChannel(host="127.0.0.1", port=sink.port, mail_from="dpo@ofii.example")
        sent = send_notices(baseline, campaign_id=started.campaign_id, channel=channel,
                            controller="OFII (test)", clock=FixedClock(NOW))  # fmt: skip
        assert (sent.sent, sent.failed, sent.pending) == (2, 0, 0)
        assert sink.count == 2
    box = mailbox.Maildir(str(tmp_path / "mail"), create=False)
    messages = [email.message_from_bytes(m.as_bytes(), policy=default) for m in box]
    assert {m["To"] for m in messages} == {"dpo@good.example", "dpo@bad.example"}
    body = messages[0].get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Budget au plus 5 fois le volume normal." in text and "réduction de vos budgets" in text
    assert f"/api/v1/campaigns/{started.campaign_id}/acknowledgement" in text
    assert messages[0]["Subject"].startswith("Nouvelles exigences de sécurité")
    with baseline.begin() as s:  # nothing left to send: a second run sends nothing
        assert s.scalar(select(func.count()).where(CampaignNotice.status == "sent")) == 2
        acknowledge(s, campaign_id=started.campaign_id,
                    processor=get_processor(s, name="good-test"), actor=ACTOR, now=NOW)  # fmt: skip
        rows = {r.processor: r for r in progress(s, campaign_id=started.campaign_id, at=NOW)}
    assert rows["good-test"].acknowledged_at is not None and rows["good-test"].met == 1
    assert rows["bad-test"].acknowledged_at is None
    assert rows["bad-test"].unmet == ("budget-ratio v2",)


def test_a_campaign_that_raises_nothing_or_a_bad_file_records_nothing(
    baseline: sessionmaker[Session],
) -> None:
    with baseline.begin() as s, pytest.raises(InvalidInput, match="raises nothing"):
        start_campaign(s, parsed=parse_requirements(REQUIREMENTS_YAML), actor=ACTOR, now=NOW)
    bad = RAISED.replace("check: mfa", "check: staff-training")
    with baseline.begin() as s, pytest.raises(SpecRejected, match="already means attested"):
        start_campaign(s, parsed=parse_requirements(bad), actor=ACTOR, now=NOW)
    with baseline.begin() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 0


def test_campaign_commands(
    cli: Invoke, baseline: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised = tmp_path / "raised.yaml"
    raised.write_text(RAISED, encoding="utf-8")
    started = cli(["requirements", "campaign", str(raised), "--no-mail"])
    assert started.exit_code == 0, started.output
    assert "Campaign 1 started for 2 provider(s)" in started.output
    ack = cli(["requirements", "acknowledge", "bad-test", "1"])
    assert ack.exit_code == 0, ack.output
    status = cli(["requirements", "campaign-status", "1", "--json"])
    rows = {r["processor"]: r for r in json.loads(status.output)}
    assert rows["bad-test"]["acknowledged_at"] is not None
    assert rows["good-test"]["notice"] == "pending"
    none = cli(["requirements", "campaign-status", "9"])
    assert none.exit_code == 1 and "no campaign 9" in none.output


def test_campaign_command_mails_through_the_configured_smtp_server(
    baseline: sessionmaker[Session], settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from vigie.cli.app import app
    from vigie.cli.context import Instance

    raised = tmp_path / "raised.yaml"
    raised.write_text(RAISED, encoding="utf-8")
    with MailSink(tmp_path / "mail") as sink:
        local = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": sink.port})
        result = CliRunner().invoke(
            app, ["requirements", "campaign", str(raised)],
            obj=Instance(settings=local, _engine=engine),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "E-mail: 2 sent, 0 refused, 0 to retry" in result.output
        assert sink.count == 2
