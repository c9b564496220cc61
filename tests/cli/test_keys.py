"""`vigie keys issue|list|revoke` through Typer's runner, on real databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.conftest import Invoke
from vigie.errors import Denied
from vigie.processors.keys import authenticate

FILE = """\
processors:
  - name: keyed
    legal_name: "Keyed SAS (fictitious)"
    siren: "732100003"
    contact_email: dpo@keyed.example
    security_officer: "Claire Martin"
"""


@pytest.fixture
def cli(cli: Invoke, tmp_path: Path) -> Invoke:
    """The CLI runner on an instance where processor ``keyed`` exists."""
    path = tmp_path / "p.yaml"
    path.write_text(FILE)
    assert cli(["processors", "apply", str(path)]).exit_code == 0
    return cli


def test_issue_list_revoke(cli: Invoke, sessions: sessionmaker[Session]) -> None:
    issued = cli(["keys", "issue", "keyed", "--expires-in", "30d", "--allow-ip", "192.0.2.0/24",
              "--allow-ip", "2001:db8::/32", "--note", "prod"],
    )  # fmt: skip
    assert issued.exit_code == 0, issued.output
    token = next(line for line in issued.output.splitlines() if line.startswith("vgk_"))
    assert "shown once" in issued.output and "192.0.2.0/24, 2001:db8::/32" in issued.output
    with sessions() as s:
        ctx = authenticate(s, token=token, client_ip="192.0.2.10", now=datetime.now(UTC))
        assert ctx.processor.name == "keyed"
    listed = json.loads(cli(["keys", "list", "--json"]).output)
    assert len(listed) == 1 and listed[0]["status"] == "active"
    assert token not in json.dumps(listed) and token.split("_", 2)[2] not in json.dumps(listed)
    table = cli(["keys", "list", "--processor", "keyed"])
    assert table.exit_code == 0 and token not in table.output and "prod" in table.output
    revoked = cli(["keys", "revoke", str(listed[0]["id"])])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with sessions() as s, pytest.raises(Denied):
        authenticate(s, token=token, client_ip="192.0.2.10", now=datetime.now(UTC))
    again = cli(["keys", "revoke", str(listed[0]["id"])])
    assert again.exit_code == 1 and "already revoked" in again.output


def test_issue_json_and_refusals(cli: Invoke) -> None:
    data = json.loads(cli(["keys", "issue", "keyed", "--json"]).output)
    assert data["token"].startswith("vgk_") and data["expires_at"] is None
    for args, message in [
        (["keys", "issue", "ghost"], "no processor named 'ghost'"),
        (["keys", "issue", "keyed", "--expires-in", "soon"], "bad duration"),
        (["keys", "issue", "keyed", "--allow-ip", "300.1.1.1"], "bad address"),
        (["keys", "revoke", "999"], "no API key with id 999"),
        (["keys", "list", "--processor", "ghost"], "no processor named"),
    ]:
        result = cli(args)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
