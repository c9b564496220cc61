"""`vigie serve`: run the processor API (the gateway) and the console with uvicorn.

Each listener has its own port; ``--only api`` or ``--only console`` runs one alone (so
each can sit on its own network). Run together, the console runs in a child process of
its own, stopped with the API.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from enum import StrEnum
from types import FrameType
from typing import Any

import typer

from vigie.cli.context import err_console, instance
from vigie.errors import ConfigError
from vigie.settings import Settings

APP_FACTORY = "vigie.gateway.app:app_from_environment"
CONSOLE_FACTORY = "vigie.console.app:app_from_environment"
WORKER_HEALTHCHECK_SECONDS = 60


class Only(StrEnum):
    """A listener ``vigie serve --only`` may run alone."""

    API = "api"
    CONSOLE = "console"


def _uvicorn_options(settings: Settings, log_level: str) -> dict[str, Any]:
    return {
        "factory": True,
        "log_level": log_level,
        "access_log": False,  # access lines would name pseudonyms; the audit trail has it all
        "server_header": False,
        # The app bounds request heads itself (vigie.http), whatever parser uvicorn picks;
        # with h11 the parser's own buffer matches it.
        "h11_max_incomplete_event_size": settings.http_max_head_bytes
        + settings.http_max_line_bytes,
        # A worker that does not answer the supervisor's ping in time is killed and
        # restarted; uvicorn's 5 s default kills workers still importing on a busy host.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }


def _run_console(options: dict[str, Any], parent: int | None = None) -> None:
    """Serve the console; as ``vigie serve``'s child, stop when ``parent`` is gone."""
    import uvicorn

    if parent is not None:
        threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    uvicorn.run(CONSOLE_FACTORY, **options)


def _orphan_watch(parent: int) -> None:
    # Whatever killed the parent (even SIGKILL), the console must not outlive it.
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the SIGTERM it handled once it has shut down: leave through the
    # ``finally`` that stops the console child.
    raise SystemExit(128 + signum)


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address of the processor API. Put a TLS proxy in front."
    ),
    port: int = typer.Option(
        8000, "--port", min=1, max=65535, help="TCP port of the processor API."
    ),
    console_host: str = typer.Option(
        "127.0.0.1",
        "--console-host",
        help="Address of the console (the controller's staff only; keep it internal).",
    ),
    console_port: int = typer.Option(
        8001, "--console-port", min=1, max=65535, help="TCP port of the console."
    ),
    only: Only | None = typer.Option(  # noqa: B008 (typer declares options this way)
        None, "--only", help="Run one listener alone: `api` or `console`."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Worker processes of the processor API. Budgets and the audit chain stay exact "
        "across workers (they are checked in the database, under a row lock).",
    ),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="Proxies whose X-Forwarded-For (and X-Forwarded-Proto) are trusted for the "
        "client address (key IP allow-lists, sign-in throttling) and scheme (the console's "
        "Secure cookie). Default: none, the TCP peer is the client.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the processor API at http://HOST:PORT/api/v1 and the console at
    http://CONSOLE-HOST:CONSOLE-PORT/.

    Settings come from VIGIE_* variables (database, secrets, page size, request size
    limits, console sessions); every worker reads them at start. Each API request is
    authenticated, scoped, masked, counted against the processor's budgets and written
    to the audit trail before it is answered. The console serves the controller's
    operators (`vigie operators add`); nothing of one listener is reachable on the
    other's port.

    Example: `vigie serve --port 8080 --workers 4 --console-port 8081`
    """
    import uvicorn

    inst = instance(ctx)
    settings = inst.settings
    # Fail now, in the parent, rather than in every worker.
    inst.secrets  # noqa: B018 - loads and checks the instance secrets
    if not settings.resolved_database_url:
        raise ConfigError("no database configured")
    options = _uvicorn_options(settings, log_level)
    proxy: dict[str, Any] = {
        "proxy_headers": forwarded_allow_ips is not None,
        "forwarded_allow_ips": forwarded_allow_ips,
    }
    console_options = {**options, **proxy, "host": console_host, "port": console_port}
    if only is not Only.API:
        err_console.print(
            f"Vigie console on http://{console_host}:{console_port}/", highlight=False
        )
    if only is Only.CONSOLE:
        _run_console(console_options)
        return
    docs = "API documentation at /api/docs" if settings.gateway_docs else "no /api/docs page"
    err_console.print(
        f"Vigie gateway on http://{host}:{port}/api/v1 ({workers} worker(s)); {docs}",
        highlight=False,
    )
    child = None
    if only is None:
        child = multiprocessing.get_context("spawn").Process(
            target=_run_console,
            args=(console_options, os.getpid()),
            name="vigie-console",
            daemon=True,
        )
        child.start()
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        uvicorn.run(APP_FACTORY, host=host, port=port, workers=workers, **proxy, **options)
    finally:
        if child is not None:
            child.terminate()
            child.join(timeout=30)


def register(app: typer.Typer) -> None:
    """Add ``vigie serve`` to ``app``."""
    app.command("serve")(serve)
