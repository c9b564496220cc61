"""`vigie serve`: run the processor API (the gateway) with uvicorn."""

from __future__ import annotations

import typer

from vigie.cli.context import err_console, instance
from vigie.errors import ConfigError
from vigie.ops.logs import dict_config
from vigie.ops.multiproc import prepare as prepare_metrics

APP_FACTORY = "vigie.gateway.app:app_from_environment"
WORKER_HEALTHCHECK_SECONDS = 60


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on. Put a TLS proxy in front."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port to listen on."),
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
    no_worker: bool = typer.Option(
        False,
        "--no-worker",
        help="Do not start a job worker alongside the listeners (run `vigie worker` "
        "yourself, e.g. under systemd).",
    ),
) -> None:
    """Serve the processor API at http://HOST:PORT/api/v1 (OpenAPI at /api/v1/openapi.json).

    Settings come from VIGIE_* variables (database, secrets, page size, request size
    limits); every worker reads them at start. Each request is authenticated, scoped,
    masked, counted against the processor's budgets and written to the audit trail before
    it is answered. The detection pipeline watches every request and can suspend a key
    inline.

    One job worker process (`vigie worker`: leak analyses, verifications) runs
    alongside, stopped with the listeners, unless `--no-worker`.

    Every worker also answers `/health`, `/ready` (store, audit trail, secrets) and, to
    VIGIE_METRICS_ALLOW only, `/metrics` (merged across workers), and writes one JSON
    access line per request at INFO, without paths or personal data (docs/operations.md).

    Example: `vigie serve --port 8080 --workers 4`
    """
    import uvicorn

    from vigie.jobs.spawn import worker_alongside

    inst = instance(ctx)
    settings = inst.settings
    # Fail now, in the parent, rather than in every worker.
    inst.secrets  # noqa: B018 - loads and checks the instance secrets
    if not settings.resolved_database_url:
        raise ConfigError("no database configured")
    prepare_metrics(settings, workers=workers)  # before the workers import prometheus-client
    docs = "API documentation at /api/docs" if settings.gateway_docs else "no /api/docs page"
    jobs = "no job worker" if no_worker else "one job worker"
    err_console.print(
        f"Vigie gateway on http://{host}:{port}/api/v1 ({workers} worker(s)); {docs}; {jobs}",
        highlight=False,
    )
    with worker_alongside(enabled=not no_worker):
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips,
            log_level=log_level,
            log_config=dict_config(settings),  # every worker logs JSON lines without persons
            # uvicorn's access lines would name pseudonyms; vigie.http writes its own, with
            # the route template instead of the path
            access_log=False,
            server_header=False,
            # The app bounds request heads itself (vigie.http), whatever parser uvicorn picks;
            # with h11 the parser's own buffer matches it.
            h11_max_incomplete_event_size=settings.http_max_head_bytes
            + settings.http_max_line_bytes,
            # A worker that does not answer the supervisor's ping in time is killed and
            # restarted; uvicorn's 5 s default kills workers still importing on a busy host.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )


def register(app: typer.Typer) -> None:
    """Add ``vigie serve`` to ``app``."""
    app.command("serve")(serve)
