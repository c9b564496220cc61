"""The demo's console operator: a DPO whose password and TOTP key are printed, demo only.

A real instance never prints an operator's secrets; the demo does, once, so that its story
can be followed in the console page by page (``vigie serve``, then the console's URL).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from vigie.console.auth import PasswordCost
from vigie.console.operators import add_operator, pending_secret

LOGIN = "dpo-demo"
CONSOLE_URL = "http://127.0.0.1:8001/"


@dataclass(frozen=True)
class DemoOperator:
    """The demo operator's login and secrets (shown once, in the demo's terminal)."""

    login: str
    password: str
    totp_secret: str


def demo_operator(
    sessions: sessionmaker[Session], *, actor: str, cost: PasswordCost
) -> DemoOperator:
    """Create the demo's DPO (audited like any operator) with a TOTP key ready to enrol.

    The key is the one the console's enrolment page shows at first sign-in (as a QR code
    and as text); it counts as enrolled once a code of it has been accepted there.
    """
    password = secrets.token_urlsafe(12)
    with sessions.begin() as session:
        operator = add_operator(
            session,
            login=LOGIN,
            role="dpo",
            password=password,
            language="fr",
            actor=actor,
            cost=cost,
        )
        secret = pending_secret(session, operator=operator)
    return DemoOperator(login=LOGIN, password=password, totp_secret=secret)
