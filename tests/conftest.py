"""Shared fixtures: a real database per test, on SQLite and on PostgreSQL.

The ``engine`` fixture (and everything built on it) runs each test twice: once on a
fresh SQLite file (a copy of one migrated template), once in a PostgreSQL schema of its
own, as empty as a fresh one (each worker reuses its schemas, emptied between tests:
:mod:`tests.pg_schemas`) — except a test marked
:data:`SQLITE_ONLY`, where the database plays no part in what is checked (what a browser
shows of a page): anything touching SQL, locks or transactions runs on both. PostgreSQL is found at
``VIGIE_TEST_POSTGRES_URL`` (default: local trust auth, database ``test``). When it is
unreachable the PostgreSQL half is skipped and the run says so at the end — unless
``VIGIE_TEST_REQUIRE_POSTGRES=1`` (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, create_mock_engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.pg_schemas import SchemaPool
from tests.snapshots import Snapshot
from vigie.secrets import InstanceSecrets, ensure_secrets, load_secrets
from vigie.settings import Settings
from vigie.store.engine import make_engine, make_session_factory
from vigie.store.migrate import upgrade
from vigie.store.models import load_metadata

# The browser harness of every browser test; the session's shared `vigie demo` run; the
# xdist groups (`--dist loadgroup`) as pytest 9 reads them.
pytest_plugins = ("tests.browser", "tests.demo_run", "tests.xdist_groups")

PG_URL = os.environ.get("VIGIE_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("VIGIE_TEST_REQUIRE_POSTGRES") == "1"
_pg_state: dict[str, object] = {}
# This process's test schemas, emptied and reused from test to test (tests/pg_schemas.py).
SCHEMAS = SchemaPool(PG_URL)
# No per-example deadline: on this shared 2-core machine a pause of the process, not of
# the code, pushes an example past it (a "flaky" failure); the suite asserts no timing.
hypothesis_settings.register_profile("vigie", deadline=None)
hypothesis_settings.load_profile("vigie")
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
# Argon2id at its cheapest for the test instances' operators (a hash in about a
# millisecond instead of ~0.1 s): what is tested is the sign-in, not the hash's cost. The
# production cost is tested in tests/console/test_auth.py and tests/demo.
CHEAP_PASSWORDS = {
    "console_password_time_cost": 1,
    "console_password_memory_kib": 8,
    "console_password_parallelism": 1,
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked ``slow`` first, each kind in its collected order otherwise.

    ``--dist loadgroup`` hands the groups out first (the largest first), then the other
    tests in this order, a few at a time to whichever worker is nearly idle: started
    first, the long tests overlap the short ones instead of leaving one worker finishing
    the last of them alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def postgres_available() -> bool:
    """Whether the test PostgreSQL answers (checked once per run)."""
    if "ok" not in _pg_state:
        try:
            probe = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as conn:
                conn.execute(text("select 1"))
            probe.dispose()
            _pg_state["ok"] = True
        except Exception as exc:  # any failure means "not available"
            _pg_state["ok"] = False
            _pg_state["why"] = type(exc).__name__
    return bool(_pg_state["ok"])


def pytest_unconfigure(config: pytest.Config) -> None:
    """Say it, last and loud, when the PostgreSQL half did not run.

    Under xdist the workers probe; the controller that prints this probes for itself.
    """
    if hasattr(config, "workerinput") or postgres_available():
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"PostgreSQL half SKIPPED: no server at {PG_URL} ({_pg_state.get('why')}). "
            "Only SQLite was tested; set VIGIE_TEST_POSTGRES_URL or run .ci/run.",
            yellow=True,
            bold=True,
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_ddl() -> str:
    """The DDL ``create_all`` runs for the models on PostgreSQL, as one script.

    Sent with the ``CREATE SCHEMA`` in one round trip, it builds a test's schema several
    times faster than ``create_all`` (which also probes each table first)."""
    statements: list[str] = []

    def keep(sql: Any, *_: object, **__: object) -> None:
        statements.append(str(sql.compile(dialect=mock.dialect)).strip())

    mock = create_mock_engine(PG_URL, keep)
    load_metadata().create_all(mock, checkfirst=False)  # type: ignore[arg-type]
    return ";\n".join(statements) + ";"


@contextmanager
def fresh_database(
    kind: str, directory: Path, sqlite_template: Path, ddl: Callable[[], str]
) -> Iterator[str]:
    """URL of a fresh, migrated database of ``kind`` (``sqlite`` in ``directory``, or a
    PostgreSQL schema built from ``ddl()`` — or one a previous test used, emptied: see
    :mod:`tests.pg_schemas`)."""
    if kind == "sqlite":
        path = directory / "vigie.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if not postgres_available():
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}")
        pytest.skip("PostgreSQL unreachable")
    schema = SCHEMAS.take(ddl)
    # A test's commits need not survive a crash of the server: without waiting for the
    # WAL's flush, a commit takes ~0 ms instead of 5-45 ms on this shared machine's disk
    # (what other sessions see, and when, is unchanged).
    yield f"{PG_URL}?options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
    SCHEMAS.give_back(schema)


@pytest.fixture(scope="session")
def registry_snapshot(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, request: pytest.FixtureRequest
) -> Iterator[Snapshot]:
    """The leak tests' registry and disclosures (``tests.leaks.conftest.build_registry``),
    written once per test process and database kind (:mod:`tests.snapshots`); here so
    that every suite using the leak tests' ``world`` shares it."""
    from tests.leaks.conftest import build_registry

    directory = tmp_path_factory.mktemp("registry")
    ddl = lambda: request.getfixturevalue("pg_ddl")  # noqa: E731 - only for PostgreSQL
    snapshot = Snapshot(
        build_registry, lambda kind: fresh_database(kind, directory, sqlite_template, ddl)
    )
    yield snapshot
    snapshot.close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    SCHEMAS.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """URL of a fresh, migrated database of each kind."""
    ddl = lambda: request.getfixturevalue("pg_ddl")  # noqa: E731 - only for PostgreSQL
    with fresh_database(request.param, tmp_path, sqlite_template, ddl) as url:
        yield url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings of a test instance: its own data directory, secrets and database."""
    s = Settings(data_dir=tmp_path / "data", database_url=db_url, **CHEAP_PASSWORDS)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_secrets(s.resolved_secrets_dir)
    return s


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.resolved_database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def secrets(settings: Settings) -> InstanceSecrets:
    return load_secrets(settings.resolved_secrets_dir)
