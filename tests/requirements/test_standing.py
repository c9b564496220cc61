"""Standing from what the database holds: keys, contracts, processors' contacts."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from vigie.processors.keys import issue_key
from vigie.requirements.standing import standings

from .conftest import ACTOR, NOW, Invoke


def _table(rows: list) -> dict[tuple[str, str], tuple[str, str]]:  # type: ignore[type-arg]
    return {(r.processor, r.requirement): (r.state, r.phase) for r in rows}


def test_standing_before_and_after_the_deadline(baseline: sessionmaker[Session]) -> None:
    with baseline.begin() as s:
        issue_key(s, processor="good-test", actor=ACTOR, allowed_cidrs=["192.0.2.0/24"], now=NOW)
        issue_key(s, processor="bad-test", actor=ACTOR, now=NOW)
    with baseline.begin() as s:
        before = _table(standings(s, at=NOW + timedelta(days=1)))
        after = _table(standings(s, at=NOW + timedelta(days=60)))
    assert before[("good-test", "key-allow-list")] == ("met", "met")
    assert before[("bad-test", "key-allow-list")] == ("unmet", "warning")
    assert after[("bad-test", "key-allow-list")] == ("unmet", "overdue")
    assert after[("good-test", "budget-ratio")] == ("met", "met")
    assert after[("bad-test", "budget-ratio")] == ("unmet", "overdue")
    assert after[("bad-test", "contacts")] == ("unmet", "overdue")
    assert after[("good-test", "contacts")] == ("met", "met")
    assert after[("good-test", "mfa")] == ("missing", "overdue")


def test_a_requirement_applied_later_is_not_in_force_before(
    baseline: sessionmaker[Session],
) -> None:
    with baseline.begin() as s:
        assert standings(s, at=NOW - timedelta(seconds=1)) == []


def test_status_command(cli: Invoke, baseline: sessionmaker[Session]) -> None:
    table = cli(["requirements", "status"])
    assert table.exit_code == 0, table.output
    assert "bad-test" in table.output  # the table wraps its reasons to the terminal's width
    every = json.loads(cli(["requirements", "status", "--json"]).output)
    reasons = " ".join(str(r) for r in every if r["processor"] == "bad-test")
    assert "no 24/7 security contact" in reasons
    one = cli(["requirements", "status", "good-test", "--json"])
    data = json.loads(one.output)
    assert {r["processor"] for r in data} == {"good-test"}
    assert {r["requirement"] for r in data} == {"key-allow-list", "budget-ratio", "contacts", "mfa"}
    unknown = cli(["requirements", "status", "nobody"])
    assert unknown.exit_code == 1 and "no processor named 'nobody'" in unknown.output
