"""Sign a checkpoint over what a test wrote with library calls, as the CLI or the gateway would.

Every CLI command anchors the events it appended when it ends, and ``vigie serve`` signs
on a timer: a test that builds its trail with library calls signs here before the
evidence gate (:func:`vigie.audit.evidence.require_verified`) reads it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from vigie.audit.checkpoints import take
from vigie.secrets import InstanceSecrets


def sign(sessions: sessionmaker[Session], secrets: InstanceSecrets) -> int:
    """Sign a checkpoint over the whole trail; return its id."""
    with sessions.begin() as s:
        checkpoint = take(s, signing_key=secrets.signing_key, actor="operator:cli")
        assert checkpoint is not None
        return checkpoint.id
