"""The one place that knows every domain's models module, for Alembic and ``create_all``."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from vigie.store.base import Base

MODEL_MODULES = (
    "vigie.registry.models",
    "vigie.processors.models",
    "vigie.gateway.models",
    "vigie.audit.models",
    "vigie.detection.models",
    "vigie.fingerprint.models",
    "vigie.leaks.models",
    "vigie.breach.models",
    "vigie.jobs.models",
    "vigie.requirements.models",
    "vigie.ops.models",
    "vigie.console.models",
    "vigie.public.models",
)


def load_metadata() -> MetaData:
    """Import every models module and return the shared metadata."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
