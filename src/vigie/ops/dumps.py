"""Copying the store out and back in: SQLite's online-backup API, PostgreSQL's pg_dump.

SQLite: :func:`sqlite_copy` copies the live database page by page while writers go on
(``sqlite3.Connection.backup``), into a file the caller seals then deletes.
PostgreSQL: :func:`pg_dump` streams ``pg_dump --format=custom`` of the instance's schema
(``current_schema()``) to the caller, and :func:`pg_restore` streams it back into
``pg_restore``; the dump never touches the disk in clear. Both tools must be on ``PATH``
with a major version at least the server's (pg_dump refuses newer servers anyway, with a
less helpful message): :func:`check_pg_tools` says which is missing or too old.
The connection goes through libpq environment variables, so the password is never on a
command line (``ps`` shows command lines to every user).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from vigie.errors import ConfigError, IntegrityError

PG_FLAGS = ("--no-owner", "--no-privileges")


def sqlite_path(engine: Engine) -> Path:
    """The file of a SQLite store."""
    database = engine.url.database
    if not database or database == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def sqlite_copy(
    engine: Engine, target: Path, *, progress: Callable[[int, int], None] | None = None
) -> None:
    """Copy the live SQLite store to ``target`` with the online-backup API."""
    source = sqlite3.connect(sqlite_path(engine))
    dest = sqlite3.connect(target)
    try:

        def _step(_status: int, remaining: int, total: int) -> None:
            if progress is not None:
                progress(total - remaining, total)

        source.backup(dest, pages=1024, progress=_step)
    finally:
        dest.close()
        source.close()


def _major(version_output: str) -> int:
    found = re.search(r"(\d+)(?:\.\d+)?", version_output)
    if found is None:
        raise ConfigError(f"cannot read a version in {version_output!r}")
    return int(found.group(1))


def server_major(engine: Engine) -> int:
    """The PostgreSQL server's major version."""
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10_000


def check_pg_tools(engine: Engine, tool: str) -> str:
    """The path of ``tool`` (pg_dump or pg_restore); raise ``ConfigError`` if it is absent
    or older than the server."""
    path = shutil.which(tool)
    if path is None:
        raise ConfigError(
            f"{tool} is not on PATH: install the PostgreSQL client tools "
            "(Debian: postgresql-client) of the server's major version"
        )
    version = [path, "--version"]
    out = subprocess.run(version, capture_output=True, text=True, check=True).stdout  # noqa: S603
    mine, server = _major(out), server_major(engine)
    if mine < server:
        raise ConfigError(
            f"{tool} is version {mine} but the server is {server}: install the client "
            f"tools of version {server} or later"
        )
    return path


def current_schema(engine: Engine) -> str:
    """The schema the instance's tables live in."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


def libpq_env(engine: Engine) -> dict[str, str]:
    """The environment that points libpq tools at ``engine``'s database."""
    url = make_url(str(engine.url.render_as_string(hide_password=False)))
    env = dict(os.environ)
    pairs = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for name, value in pairs.items():
        if value:
            env[name] = str(value)
    options = url.query.get("options")
    if options:
        env["PGOPTIONS"] = options if isinstance(options, str) else " ".join(options)
    return env


@contextmanager
def pg_dump(engine: Engine) -> Iterator[IO[bytes]]:
    """``pg_dump --format=custom`` of the instance's schema, as a stream to read."""
    tool = check_pg_tools(engine, "pg_dump")
    schema = current_schema(engine)
    cmd = [tool, "--format=custom", *PG_FLAGS, f"--schema={schema}"]
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(  # noqa: S603 (our argv, no shell)
            cmd, stdout=subprocess.PIPE, stderr=errors, env=libpq_env(engine)
        ) as proc,
    ):
        assert proc.stdout is not None
        yield proc.stdout
        proc.stdout.close()
        if proc.wait() != 0:
            raise IntegrityError(f"pg_dump failed: {_said(errors)}")


def pg_restore(engine: Engine, chunks: Iterator[bytes]) -> None:
    """Feed a custom-format dump to ``pg_restore`` into ``engine``'s database."""
    tool = check_pg_tools(engine, "pg_restore")
    cmd = [tool, *PG_FLAGS, "--exit-on-error", "--single-transaction"]
    env = libpq_env(engine)
    cmd.append(f"--dbname={env.get('PGDATABASE', '')}")
    with (
        tempfile.TemporaryFile() as errors,
        subprocess.Popen(  # noqa: S603 (our argv, no shell)
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
        ) as proc,
    ):
        assert proc.stdin is not None
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
        except BrokenPipeError:
            pass  # pg_restore stopped on an error: its exit code and message say which
        finally:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        if proc.wait() != 0:
            raise IntegrityError(f"pg_restore failed: {_said(errors)}")


def _said(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read().decode(errors="replace").strip()[-2000:]
