"""What the console's routes share: the database, the clock, the cookie signer, the renderer,
the instance's secrets (the audit key the evidence gate verifies with; stored leak reports,
uploads and audit exports need them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.checkpoints import Checkpointer
from vigie.breach.clock import ReadClock
from vigie.console.auth import PasswordCost
from vigie.console.render import Renderer
from vigie.console.sessions import CookieSigner, SessionPolicy
from vigie.console.sso import SingleSignOn
from vigie.console.throttle import SignInThrottle
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings


@dataclass
class Console:
    """The console's collaborators, built once by :func:`vigie.console.app.create_app`."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    signer: CookieSigner
    policy: SessionPolicy
    throttle: SignInThrottle
    renderer: Renderer
    checkpointer: Checkpointer
    password_cost: PasswordCost
    secrets: InstanceSecrets  # the audit key signs the dossier's manifest
    sso_signer: CookieSigner  # the pending single sign-on's cookie
    sso: SingleSignOn | None = None  # None: single sign-on is off

    @property
    def breach_clock(self) -> ReadClock:
        """The console's clock as the breach package takes it (timeline entries)."""
        return ReadClock(self.clock)

    def anchored(self) -> None:
        """After a change was committed: sign a checkpoint if one is due (at the console's
        clock, the time its pages show)."""
        self.checkpointer.maybe_checkpoint(self.clock())
