"""`vigie serve`: run Vigie's listeners with uvicorn, each on its own port.

Each listener is one entry of :data:`LISTENERS` (its app factory); ``--only NAME`` runs
one alone (so each can sit on its own network). Each listener runs as one uvicorn server
in a child process of this command, which stops them together — and a child whose parent
is gone (even killed with SIGKILL) stops by itself. One job worker runs alongside.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import typer

from vigie.cli.context import err_console, instance
from vigie.errors import ConfigError, InvalidInput
from vigie.ops.logs import dict_config
from vigie.ops.multiproc import prepare as prepare_metrics
from vigie.settings import Settings

APP_FACTORY = "vigie.gateway.app:app_from_environment"
CONSOLE_FACTORY = "vigie.console.app:app_from_environment"
WORKER_HEALTHCHECK_SECONDS = 60


@dataclass(frozen=True)
class ListenerEntry:
    """One listener: its uvicorn app factory and what to say when it starts."""

    factory: str
    banner: str


LISTENERS = {
    "api": ListenerEntry(APP_FACTORY, "Vigie gateway on http://{addr}/api/v1"),
    "console": ListenerEntry(CONSOLE_FACTORY, "Vigie console on http://{addr}/"),
    "public": ListenerEntry(
        "vigie.public.app:app_from_environment", "Vigie public service on http://{addr}/"
    ),
}


def _uvicorn_options(settings: Settings, log_level: str) -> dict[str, Any]:
    return {
        "factory": True,
        "log_level": log_level,
        "log_config": dict_config(settings),  # every worker logs JSON lines without persons
        # uvicorn's access lines would name pseudonyms; vigie.http writes its own, with the
        # route template instead of the path
        "access_log": False,
        "server_header": False,
        # The app bounds request heads itself (vigie.http), whatever parser uvicorn picks;
        # with h11 the parser's own buffer matches it.
        "h11_max_incomplete_event_size": settings.http_max_head_bytes
        + settings.http_max_line_bytes,
        # A worker that does not answer the supervisor's ping in time is killed and
        # restarted; uvicorn's 5 s default kills workers still importing on a busy host.
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }


def _run(factory: str, options: dict[str, Any], parent: int) -> None:
    """Run one listener with uvicorn, in a child of ``vigie serve`` (pid ``parent``)."""
    import uvicorn

    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    uvicorn.run(factory, **options)


def _orphan_watch(parent: int) -> None:
    # Whatever ended the parent (even SIGKILL), a listener must not outlive it.
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown


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
    public_host: str = typer.Option(
        "127.0.0.1",
        "--public-host",
        help='Address of the public service (verify a notice, "was I affected?"), meant to '
        "be reached from the internet through the controller's TLS proxy.",
    ),
    public_port: int = typer.Option(
        8002, "--public-port", min=1, max=65535, help="TCP port of the public service."
    ),
    only: str | None = typer.Option(
        None,
        "--only",
        help=f"Run one listener alone: {', '.join(LISTENERS)}. Default: all of them.",
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
    no_worker: bool = typer.Option(
        False,
        "--no-worker",
        help="Do not start a job worker alongside the listeners (run `vigie worker` "
        "yourself, e.g. under systemd).",
    ),
) -> None:
    """Serve the processor API at http://HOST:PORT/api/v1, the console at
    http://CONSOLE-HOST:CONSOLE-PORT/ and the public service at
    http://PUBLIC-HOST:PUBLIC-PORT/, each on its own port.

    Settings come from VIGIE_* variables (database, secrets, page size, request size
    limits, console sessions); every worker reads them at start. Each API request is
    authenticated, scoped, masked, counted against the processor's budgets and written
    to the audit trail before it is answered. The console serves the controller's
    operators (`vigie operators add`). The public service, for the people concerned,
    exposes only its pages and JSON endpoints (OpenAPI at /openapi.json on its port).
    Nothing of one listener is reachable on another's port.

    One job worker process (`vigie worker`: leak analyses, verifications) runs
    alongside, stopped with the listeners, unless `--no-worker`.

    Every listener also answers `/health`, `/ready` (store, audit trail, secrets) and, to
    VIGIE_METRICS_ALLOW only, `/metrics` (merged across processes), and writes one JSON
    access line per request at INFO, without paths or personal data (docs/operations.md).

    Example: `vigie serve --port 8080 --workers 4 --console-port 8081`,
    `vigie serve --only public`
    """
    from vigie.jobs.spawn import worker_alongside

    inst = instance(ctx)
    settings = inst.settings
    # Fail now, in the parent, rather than in every worker.
    inst.secrets  # noqa: B018 - loads and checks the instance secrets
    if not settings.resolved_database_url:
        raise ConfigError("no database configured")
    if only is not None and only not in LISTENERS:
        raise InvalidInput(f"--only must be one of {', '.join(LISTENERS)}")
    names = [only] if only else list(LISTENERS)
    addresses = {
        "api": (host, port),
        "console": (console_host, console_port),
        "public": (public_host, public_port),
    }
    processes = sum(workers if n == "api" else 1 for n in names) + (0 if no_worker else 1)
    prepare_metrics(settings, workers=processes)  # before any child imports prometheus-client
    common = {
        **_uvicorn_options(settings, log_level),
        "proxy_headers": forwarded_allow_ips is not None,
        "forwarded_allow_ips": forwarded_allow_ips,
    }
    runs = []
    for name in names:
        h, p = addresses[name]
        entry = LISTENERS[name]
        banner = entry.banner.format(addr=f"{h}:{p}")
        if name == "api":
            docs = "API documentation at /api/docs" if settings.gateway_docs else "no /api/docs"
            banner += f" ({workers} worker(s)); {docs}"
        err_console.print(banner, highlight=False)
        options = {**common, "host": h, "port": p, "workers": workers if name == "api" else 1}
        runs.append((entry.factory, options))
    err_console.print("no job worker" if no_worker else "one job worker", highlight=False)
    with worker_alongside(enabled=not no_worker):
        _run_together(runs)


def _run_together(runs: list[tuple[str, dict[str, Any]]]) -> None:
    """Run each listener in a child process; stop them all when one stops or on a signal."""
    spawn = multiprocessing.get_context("spawn")
    parent = os.getpid()
    children = [
        spawn.Process(target=_run, args=(*run, parent), name=f"vigie-{run[0]}", daemon=False)
        for run in runs
    ]
    for child in children:
        child.start()

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            if child.is_alive() and child.pid is not None:
                child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while all(child.is_alive() for child in children):
            children[0].join(timeout=0.5)
    finally:
        stop(signal.SIGTERM, None)
        for child in children:
            child.join(timeout=30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    """Add ``vigie serve`` to ``app``."""
    app.command("serve")(serve)
