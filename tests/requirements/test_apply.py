"""``requirements apply``: declarative, versioned, audited, and refuses bad files whole."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.models import AuditEvent
from vigie.processors.spec import SpecRejected
from vigie.requirements.apply import apply_file, latest_versions
from vigie.requirements.models import RequirementVersion
from vigie.requirements.spec import content_sha256, parse_requirements

from .conftest import ACTOR, DEADLINE, LATER, NOW, REQUIREMENTS_YAML


def _count(s: Session, model: type) -> int:
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_apply_creates_each_requirement_once_and_audits_its_content(
    processors: sessionmaker[Session], requirements_file: Path
) -> None:
    with processors.begin() as s:
        result = apply_file(s, path=requirements_file, actor=ACTOR, now=NOW)
    assert [(c.op, c.requirement, c.version) for c in result.changes] == [
        ("create", "key-allow-list", 1),
        ("create", "budget-ratio", 1),
        ("create", "contacts", 1),
        ("create", "mfa", 1),
    ]
    with processors.begin() as s:
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == "requirement:create"))
        )
        assert len(events) == 4
        stored = latest_versions(s)["key-allow-list"]
        assert stored.audit_seq == events[0].seq
        assert f'"content_sha256":"{stored.content_sha256}"' in (events[0].detail or "")
        parsed = parse_requirements(REQUIREMENTS_YAML)
        assert stored.content_sha256 == content_sha256(parsed.spec.requirements[0].content())
    with processors.begin() as s:  # idempotent
        again = apply_file(s, path=requirements_file, actor=ACTOR, now=NOW)
    assert again.changes == []


def test_dry_run_writes_nothing(processors: sessionmaker[Session], requirements_file: Path) -> None:
    with processors.begin() as s:
        result = apply_file(s, path=requirements_file, actor=ACTOR, now=NOW, dry_run=True)
    assert len(result.changes) == 4 and result.dry_run
    with processors.begin() as s:
        assert _count(s, RequirementVersion) == 0
        assert _count(s, AuditEvent) == 2 + 2  # the processors' and contracts' events only


def test_a_new_version_is_added_beside_the_old_one(
    baseline: sessionmaker[Session], requirements_file: Path
) -> None:
    text = REQUIREMENTS_YAML.replace(
        "  - id: budget-ratio\n    version: 1", "  - id: budget-ratio\n    version: 2"
    ).replace("parameters: {max_ratio: 5}", "parameters: {max_ratio: 3}")
    requirements_file.write_text(text, encoding="utf-8")
    with baseline.begin() as s:
        result = apply_file(s, path=requirements_file, actor=ACTOR, now=NOW)
    assert [(c.op, c.requirement, c.version) for c in result.changes] == [
        ("version", "budget-ratio", 2)
    ]
    assert result.changes[0].diff == {"parameters": ({"max_ratio": 5}, {"max_ratio": 3})}
    with baseline.begin() as s:
        versions = s.scalars(
            select(RequirementVersion.version).where(
                RequirementVersion.requirement == "budget-ratio"
            )
        )
        assert sorted(versions) == [1, 2]
        assert s.scalar(select(func.count()).where(AuditEvent.action == "requirement:version")) == 1


BAD_AGAINST_BASELINE = [
    (
        ("check: key-allow-list\n", "check: key-expiry\n    parameters: {max_days: 90}\n"),
        "requirements[0].check: id 'key-allow-list' already means enforced check 'key-allow-list'",
    ),
    (
        ("MFA sur chaque compte.", "MFA partout."),
        "requirements[3].version: version 1 of 'mfa' was applied with another content (text)",
    ),
    (
        ("  - id: contacts\n    version: 1\n", "  - id: contacts\n    version: 2\n"),
        f"requirements[2].deadline: deadline {DEADLINE} is in the past (today {LATER.date()})",
    ),
]


@pytest.mark.parametrize(("edit", "message"), BAD_AGAINST_BASELINE)
def test_bad_changes_are_refused_whole(
    baseline: sessionmaker[Session],
    requirements_file: Path,
    edit: tuple[str, str],
    message: str,
) -> None:
    text = REQUIREMENTS_YAML.replace(*edit)
    # Every request below also adds a brand-new requirement: it must not be applied either.
    text += (
        "  - id: training\n    version: 1\n    kind: attested\n    check: staff-training\n"
        "    text: {fr: Formation, en: Training}\n"
        f"    deadline: {(LATER + timedelta(days=30)).date()}\n"
        "    consequence: warn\n"
    )
    requirements_file.write_text(text, encoding="utf-8")
    later = LATER
    with baseline.begin() as s, pytest.raises(SpecRejected) as caught:
        apply_file(s, path=requirements_file, actor=ACTOR, now=later)
    assert message in str(caught.value)
    assert "nothing applied" in str(caught.value)
    assert all(line is not None for _, _, line in caught.value.problems)
    with baseline.begin() as s:
        assert _count(s, RequirementVersion) == 4
        assert "training" not in latest_versions(s)


def test_an_older_version_is_refused(
    baseline: sessionmaker[Session], requirements_file: Path
) -> None:
    text = REQUIREMENTS_YAML.replace(
        "  - id: budget-ratio\n    version: 1", "  - id: budget-ratio\n    version: 2"
    ).replace("max_ratio: 5", "max_ratio: 4")
    requirements_file.write_text(text, encoding="utf-8")
    with baseline.begin() as s:
        apply_file(s, path=requirements_file, actor=ACTOR, now=NOW)
    requirements_file.write_text(REQUIREMENTS_YAML)
    with baseline.begin() as s, pytest.raises(SpecRejected, match="older than the applied"):
        apply_file(s, path=requirements_file, actor=ACTOR, now=NOW)


BAD_FILES = [
    ("requirements: [\n", "not valid YAML"),
    ("baseline: x\nrequirements: []\n", "requirements: List should have at least 1 item"),
    (REQUIREMENTS_YAML.replace("kind: attested", "kind: promised"), "unknown kind 'promised'"),
    (REQUIREMENTS_YAML.replace("check: mfa", "check: mfaa"), "unknown attested check 'mfaa'"),
    (
        REQUIREMENTS_YAML.replace("{max_ratio: 5}", "{max_ratio: -1}"),
        "requirements[1].parameters: max_ratio: a positive number",
    ),
    (
        REQUIREMENTS_YAML.replace("consequence: suspend", "consequence: fine"),
        "unknown consequence 'fine'",
    ),
    (
        REQUIREMENTS_YAML.replace("    reduce_budget_to: 0.5\n", ""),
        "requirements[1].reduce_budget_to: required with consequence reduce_budget",
    ),
    (REQUIREMENTS_YAML.replace(f"deadline: {DEADLINE}", "deadline: 2027-13-01", 1), "deadline"),
    (REQUIREMENTS_YAML + REQUIREMENTS_YAML.split("requirements:\n")[1], "listed twice"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_malformed_files_say_where(text: str, message: str) -> None:
    with pytest.raises(SpecRejected) as caught:
        parse_requirements(text, source="req.yaml")
    assert message in str(caught.value) or any(message in r for _, r, _ in caught.value.problems)
    assert str(caught.value).startswith("req.yaml: ")


def test_a_deadline_in_the_past_is_refused_for_a_new_requirement(
    processors: sessionmaker[Session], requirements_file: Path
) -> None:
    past = (NOW - timedelta(days=1)).date()
    requirements_file.write_text(REQUIREMENTS_YAML.replace(str(DEADLINE), str(past), 1))
    with processors.begin() as s, pytest.raises(SpecRejected) as caught:
        apply_file(s, path=requirements_file, actor=ACTOR, now=NOW)
    assert caught.value.problems == [
        ("requirements[0].deadline", f"deadline {past} is in the past (today {NOW.date()})", 10)
    ]
    with processors.begin() as s:
        assert _count(s, RequirementVersion) == 0
