"""What ``vigie serve`` plugs into the gateway: the detection pipeline, after-commit hooks.

Kept apart from :mod:`vigie.gateway.app` so that the app factory stays free of other
domains: tests build the app with the observers they choose; the server uses these.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from vigie.gateway.observe import AccessObserver
from vigie.secrets import load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_session_factory


def default_observers(settings: Settings, engine: Engine) -> list[AccessObserver]:
    """The detection pipeline (every detector, notifier from the settings)."""
    from vigie.detection.notify import notifier_from_settings
    from vigie.detection.pipeline import DetectionConfig, DetectionPipeline

    secrets = load_secrets(settings.resolved_secrets_dir)
    return [
        DetectionPipeline(
            config=DetectionConfig.from_settings(settings),
            notifier=notifier_from_settings(settings, secrets),
            sessions=make_session_factory(engine),
        )
    ]


def default_after_commit(settings: Settings, engine: Engine) -> list[Callable[[], None]]:
    """Hooks run after each committed request: the audit checkpointer, when it exists."""
    try:
        from vigie.audit import checkpoints
    except ImportError:
        return []
    factory = getattr(checkpoints, "Checkpointer", None)
    if factory is None:
        return []
    checkpointer = factory(settings=settings, engine=engine)
    return [checkpointer.maybe_checkpoint]
