"""What every command needs: settings, the database, the instance secrets, the console.

Commands take ``ctx: typer.Context`` and call :func:`instance` to get a lazily opened
:class:`Instance`; nothing is opened until a command needs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.checkpoints import AppendWatch, Checkpointer
from vigie.audit.models import AuditCheckpoint
from vigie.audit.sequencer import integrate_all
from vigie.secrets import InstanceSecrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory

console = Console()
err_console = Console(stderr=True)
# Printed after the registry changes (synth, import): the next leak analysis would
# otherwise rebuild the triage snapshot itself, in the middle of an incident.
PREPARE_HINT = (
    "The registry changed: run `vigie leak prepare` now so that leak triage does not "
    "have to read the whole registry first (docs/leaks.md)."
)


@dataclass
class Instance:
    """A Vigie instance as seen by one CLI invocation."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    _appends: AppendWatch | None = field(default=None, repr=False)

    @cached_property
    def engine(self) -> Engine:
        engine = self._engine or make_engine(self.settings.resolved_database_url)
        self._appends = AppendWatch(engine)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def secrets(self) -> InstanceSecrets:
        # A long-running command (`vigie worker`) follows rotations; a short one never looks.
        return load_secrets(
            self.settings.resolved_secrets_dir,
            reload_seconds=self.settings.secrets_reload_seconds,
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def anchor(self) -> AuditCheckpoint | None:
        """Sign a checkpoint over the audit events this invocation committed, if any.

        Called once the command is over (see :class:`vigie.cli.app.VigieGroup`): a CLI
        process is short-lived and nothing else may come by to anchor its events, so it
        does not wait for ``audit_checkpoint_every_events/_seconds``. Its own transaction,
        after the command's: never inside a failed one. Returns the checkpoint taken.
        """
        watch, self._appends = self._appends, None
        if watch is None:
            return None
        watch.close()
        if not watch.appended:
            return None
        integrate_all(self.engine)  # anything it staged is chained before it is anchored
        checkpointer = Checkpointer(
            sessions=self.sessions, signing_key=self.secrets.signing_key, every_events=1
        )
        return checkpointer.maybe_checkpoint()


def instance(ctx: typer.Context) -> Instance:
    """The instance for this invocation, built from the environment on first use."""
    root = ctx.find_root()
    if not isinstance(root.obj, Instance):
        root.obj = Instance(settings=Settings())
    return root.obj


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout (for ``--json``)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
