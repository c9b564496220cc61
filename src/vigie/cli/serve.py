"""`vigie serve`: run Vigie's listeners with uvicorn, each on its own port.

Each listener is one entry of :data:`LISTENERS` (its app factory); ``--only NAME`` runs
one alone (so each can sit on its own network). Several listeners run as one uvicorn
server each, in child processes of this command, which stops them together.
"""

from __future__ import annotations

import multiprocessing
import signal
from dataclasses import dataclass
from typing import Any

import typer

from vigie.cli.context import err_console, instance
from vigie.errors import ConfigError, InvalidInput

APP_FACTORY = "vigie.gateway.app:app_from_environment"
WORKER_HEALTHCHECK_SECONDS = 60


@dataclass(frozen=True)
class ListenerEntry:
    """One listener: its uvicorn app factory and what to say when it starts."""

    factory: str
    banner: str


LISTENERS = {
    "api": ListenerEntry(APP_FACTORY, "Vigie gateway on http://{addr}/api/v1"),
    "public": ListenerEntry(
        "vigie.public.app:app_from_environment", "Vigie public service on http://{addr}/"
    ),
}


def _run(factory: str, options: dict[str, Any]) -> None:
    """Run one listener with uvicorn (in this process, or in a child)."""
    import uvicorn

    uvicorn.run(factory, factory=True, **options)


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on. Put a TLS proxy in front."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port to listen on."),
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
        help="Worker processes. Budgets and the audit chain stay exact across workers "
        "(they are checked in the database, under a row lock).",
    ),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="Proxies whose X-Forwarded-For is trusted for the client address (key IP "
        "allow-lists). Default: none, the TCP peer is the client.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the processor API at http://HOST:PORT/api/v1 (OpenAPI at /api/v1/openapi.json)
    and the public service at http://PUBLIC_HOST:PUBLIC_PORT/.

    Settings come from VIGIE_* variables (database, secrets, page size, request size
    limits); every worker reads them at start. Each request is authenticated, scoped,
    masked, counted against the processor's budgets and written to the audit trail before
    it is answered. The detection pipeline watches every request and can suspend a key
    inline. The public service exposes nothing of the API: only its pages and its JSON
    endpoints (OpenAPI at /openapi.json on its port).

    Example: `vigie serve --port 8080 --workers 4`, `vigie serve --only public`
    """
    inst = instance(ctx)
    settings = inst.settings
    # Fail now, in the parent, rather than in every worker.
    inst.secrets  # noqa: B018 - loads and checks the instance secrets
    if not settings.resolved_database_url:
        raise ConfigError("no database configured")
    if only is not None and only not in LISTENERS:
        raise InvalidInput(f"--only must be one of {', '.join(LISTENERS)}")
    addresses = {"api": (host, port), "public": (public_host, public_port)}
    names = [only] if only else list(LISTENERS)
    common: dict[str, Any] = {
        "workers": workers,
        "proxy_headers": forwarded_allow_ips is not None,
        "forwarded_allow_ips": forwarded_allow_ips,
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
    runs = []
    for name in names:
        h, p = addresses[name]
        entry = LISTENERS[name]
        banner = entry.banner.format(addr=f"{h}:{p}")
        if name == "api":
            docs = "API documentation at /api/docs" if settings.gateway_docs else "no /api/docs"
            banner += f" ({workers} worker(s)); {docs}"
        err_console.print(banner, highlight=False)
        runs.append((entry.factory, {**common, "host": h, "port": p}))
    if len(runs) == 1:
        _run(*runs[0])
        return
    _run_together(runs)


def _run_together(runs: list[tuple[str, dict[str, Any]]]) -> None:
    """Run each listener in a child process; stop them all when one stops or on a signal."""
    spawn = multiprocessing.get_context("spawn")
    children = [spawn.Process(target=_run, args=run, daemon=False) for run in runs]
    for child in children:
        child.start()

    def stop(signum: int, _frame: object) -> None:
        for child in children:
            if child.is_alive() and child.pid is not None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.is_alive() for child in children):
            children[0].join(timeout=0.5)
    finally:
        stop(signal.SIGTERM, None)
        for child in children:
            child.join(timeout=30)


def register(app: typer.Typer) -> None:
    """Add ``vigie serve`` to ``app``."""
    app.command("serve")(serve)
