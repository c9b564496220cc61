"""Storage: engine and session factory, declarative base, Alembic migrations."""

from vigie.store.base import Base
from vigie.store.engine import make_engine, make_session_factory

__all__ = ["Base", "make_engine", "make_session_factory"]
