"""``vigie backup`` and ``vigie restore``: a sealed copy of the instance, and back."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from vigie.audit import trail
from vigie.audit.actions import Action
from vigie.audit.verify import verify_trail
from vigie.cli.context import console, err_console, instance
from vigie.cli.processors import operator
from vigie.errors import InvalidInput
from vigie.instance import initialise
from vigie.ops.backup import KeySource, create_backup
from vigie.ops.restore import restore_backup
from vigie.secrets import load_secrets

KEY_FILE_HELP = (
    "File holding the 32-byte backup key (raw, or base64 as `openssl rand -base64 32` "
    "writes it), mode 0600. Keep it off the instance's host."
)
STDIN_KEY_HELP = "Read a passphrase (12 characters or more) from standard input instead."


def register(app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to ``app``."""
    app.command("backup")(backup)
    app.command("restore")(restore)


def _keys(key_file: Path | None, passphrase_stdin: bool) -> KeySource:
    if (key_file is None) == (not passphrase_stdin):
        raise InvalidInput("give exactly one of --key-file and --passphrase-stdin")
    if key_file is not None:
        return KeySource(key_file=key_file)
    return KeySource(passphrase=sys.stdin.readline().rstrip("\r\n"))


def backup(
    ctx: typer.Context,
    out: Path = typer.Option(  # noqa: B008 (typer declares options this way)
        ..., "--out", help="New or empty directory to write the backup in."
    ),
    key_file: Path | None = typer.Option(None, "--key-file", help=KEY_FILE_HELP),  # noqa: B008
    passphrase_stdin: bool = typer.Option(False, "--passphrase-stdin", help=STDIN_KEY_HELP),
) -> None:
    """Write a sealed backup: the store (SQLite online backup, or `pg_dump`), the instance
    secrets and audit signing keys, the notice outbox, and a manifest of SHA-256s.

    Every file is encrypted (AES-256-GCM) under the backup key; nothing in the directory
    is readable without it. Runs while the instance serves. Audited as `store:backup`.
    """
    keys = _keys(key_file, passphrase_stdin)
    inst = instance(ctx)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
        console=err_console, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("backing up", total=None)

        def _progress(step: str, done: int, total: int | None) -> None:
            bar.update(task, description=step, completed=done, total=total)

        manifest = create_backup(
            settings=inst.settings, engine=inst.engine, out=out, keys=keys, progress=_progress
        )
    size = sum(e.plain_bytes for e in manifest.entries)
    with inst.session() as session:
        trail.append(
            session,
            action=Action.STORE_BACKUP,
            actor=operator(),
            detail={"backup_id": manifest.backup_id, "files": len(manifest.entries), "bytes": size},
        )
    console.print(
        f"backup {manifest.backup_id} written to {out}: {len(manifest.entries)} sealed files, "
        f"{size:,} bytes before encryption ({manifest.dialect} store at revision "
        f"{manifest.revision})"
    )


def restore(
    ctx: typer.Context,
    directory: Path = typer.Argument(  # noqa: B008 (typer declares arguments this way)
        ..., help="The backup directory.", exists=True, file_okay=False
    ),
    key_file: Path | None = typer.Option(None, "--key-file", help=KEY_FILE_HELP),  # noqa: B008
    passphrase_stdin: bool = typer.Option(False, "--passphrase-stdin", help=STDIN_KEY_HELP),
) -> None:
    """Restore a backup into an EMPTY instance (no secrets, no tables): refuses any other.

    Checks the manifest's tag and every file's SHA-256 before writing anything, restores
    the store, secrets and outbox, upgrades the schema if the backup is older than this
    Vigie, then verifies the whole audit trail with the restored signing key. Audited in
    the restored trail as `store:restore`.
    """
    keys = _keys(key_file, passphrase_stdin)
    inst = instance(ctx)
    manifest = restore_backup(
        directory=directory, settings=inst.settings, engine=inst.engine, keys=keys
    )
    if manifest.revision != "none":  # a store made without migrations has nothing to upgrade
        initialise(inst.settings, inst.engine)
    restored = load_secrets(inst.settings.resolved_secrets_dir)
    report = verify_trail(inst.engine, public_key=restored.audit_keys)
    with inst.session() as session:
        trail.append(
            session,
            action=Action.STORE_RESTORE,
            actor=operator(),
            detail={"backup_id": manifest.backup_id, "events": report.events},
        )
    console.print(
        f"restored backup {manifest.backup_id} ({manifest.created_at}); audit trail "
        f"verified: {report.events:,} events, {report.checkpoints} checkpoints, root "
        f"{report.root.hex()[:16]}…"
    )
