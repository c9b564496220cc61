"""`vigie operators`: add, list, disable, reset-password, reset-2fa — each audited."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable

import pytest
from click.testing import Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from vigie.audit.actions import Action
from vigie.audit.models import AuditEvent
from vigie.cli.app import app
from vigie.cli.context import Instance
from vigie.console.auth import PasswordCost, SignInRefused, verify_password
from vigie.console.models import Operator, OperatorSession
from vigie.console.operators import get_operator
from vigie.console.sessions import FULL_STAGE, open_session
from vigie.settings import Settings
from vigie.store.base import utcnow

PASSWORD = "a long enough passphrase"
Run = Callable[..., Result]


@pytest.fixture
def run(settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(args: list[str], stdin: str | None = None) -> Result:
        return CliRunner().invoke(
            app, args, input=stdin, obj=Instance(settings=settings, _engine=engine)
        )

    return invoke


def _events(sessions: sessionmaker[Session], action: Action) -> list[AuditEvent]:
    with sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)))


def test_add_then_list(run: Run, sessions: sessionmaker[Session]) -> None:
    r = run(
        ["operators", "add", "claire", "--role", "security", "--password-stdin"], PASSWORD + "\n"
    )
    assert r.exit_code == 0, r.output
    with sessions() as s:
        op = get_operator(s, login="claire")
        assert op.role == "security"
        assert op.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")  # the instance's cost
        verify_password(op.password_hash, PASSWORD, cost=PasswordCost())
        with pytest.raises(SignInRefused):
            verify_password(op.password_hash, PASSWORD + "x", cost=PasswordCost())
    [event] = _events(sessions, Action.OPERATOR_CREATE)
    assert event.actor == f"operator:{getpass.getuser()}"
    assert PASSWORD not in (event.detail or "")
    listed = run(["operators", "list", "--json"])
    assert json.loads(listed.stdout) == [
        {
            "login": "claire",
            "role": "security",
            "language": "fr",
            "second_factor": "to enrol",
            "status": "active",
            "created_at": json.loads(listed.stdout)[0]["created_at"],
        }
    ]


def test_add_prompts_twice_when_not_from_stdin(run: Run, sessions: sessionmaker[Session]) -> None:
    r = run(["operators", "add", "marc", "--role", "auditor"], f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert PASSWORD not in r.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["Bad Login", "--role", "dpo"], PASSWORD, "a login is"),
        (["ok", "--role", "dpo"], "short", "at least 12"),
        (["ok", "--role", "dpo", "--language", "de"], PASSWORD, "unknown language"),
    ],
)
def test_add_refuses_bad_input(run: Run, args: list[str], stdin: str, message: str) -> None:
    r = run(["operators", "add", *args, "--password-stdin"], stdin + "\n")
    assert r.exit_code != 0
    assert message in r.output


def test_add_refuses_unknown_role_and_duplicates(run: Run) -> None:
    assert (
        run(["operators", "add", "x1", "--role", "root", "--password-stdin"], PASSWORD).exit_code
        == 2
    )
    assert (
        run(["operators", "add", "x1", "--role", "dpo", "--password-stdin"], PASSWORD).exit_code
        == 0
    )
    again = run(["operators", "add", "x1", "--role", "dpo", "--password-stdin"], PASSWORD)
    assert again.exit_code == 1 and "already exists" in again.output


def _session(sessions: sessionmaker[Session], login: str) -> int:
    with sessions.begin() as s:
        _token, row = open_session(
            s, operator=get_operator(s, login=login), stage=FULL_STAGE, now=utcnow()
        )
        return row.id


def test_disable_and_resets_end_sessions_and_are_audited(
    run: Run, sessions: sessionmaker[Session]
) -> None:
    run(["operators", "add", "ana", "--role", "dpo", "--password-stdin"], PASSWORD)
    with sessions.begin() as s:
        op = get_operator(s, login="ana")
        op.totp_secret, op.totp_enrolled_at = "JBSWY3DPEHPK3PXP", utcnow()

    first = _session(sessions, "ana")
    assert run(["operators", "reset-2fa", "ana"]).exit_code == 0
    second = _session(sessions, "ana")
    new = PASSWORD + " again"
    assert run(["operators", "reset-password", "ana", "--password-stdin"], new).exit_code == 0
    third = _session(sessions, "ana")
    assert run(["operators", "disable", "ana"]).exit_code == 0

    with sessions() as s:
        op = s.scalar(select(Operator).where(Operator.login == "ana"))
        assert op is not None
        assert op.totp_secret is None and op.totp_enrolled_at is None
        verify_password(op.password_hash, new, cost=PasswordCost())
        assert op.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
        assert op.disabled_at is not None
        for sid in (first, second, third):
            row = s.get(OperatorSession, sid)
            assert row is not None and row.revoked_at is not None
    resets = [
        json.loads(e.detail or "{}")["what"] for e in _events(sessions, Action.OPERATOR_RESET)
    ]
    assert resets == ["second factor", "password"]
    assert len(_events(sessions, Action.OPERATOR_DISABLE)) == 1
    assert run(["operators", "disable", "ana"]).exit_code == 1
    assert run(["operators", "disable", "nobody"]).exit_code == 1


def test_set_language(run: Run, sessions: sessionmaker[Session]) -> None:
    r = run(["operators", "add", "lea", "--role", "auditor", "--password-stdin"], PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = run(["operators", "set-language", "lea", "en"])
    assert r.exit_code == 0, r.output
    with sessions() as s:
        assert get_operator(s, login="lea").language == "en"
    [event] = _events(sessions, Action.OPERATOR_LANGUAGE)
    assert json.loads(event.detail or "{}") == {"login": "lea", "language": "en"}
    bad = run(["operators", "set-language", "lea", "de"])
    assert bad.exit_code == 1 and "unknown language" in bad.output
    nobody = run(["operators", "set-language", "nobody", "fr"])
    assert nobody.exit_code == 1
    assert len(_events(sessions, Action.OPERATOR_LANGUAGE)) == 1
