"""Ops tests use the CLI runner of tests/cli and the gateway world of tests/gateway."""

from tests.cli.conftest import cli
from tests.gateway.conftest import world

__all__ = ["cli", "world"]
