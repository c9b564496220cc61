"""`vigie audit`: verify the trail, sign checkpoints, print proofs, export for a regulator,
show the signing key's fingerprint."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from vigie.audit import proofs
from vigie.audit.anchors import Bound, parse_held, require_anchored
from vigie.audit.checkpoints import Checkpointer, fingerprint, take
from vigie.audit.export import export_trail
from vigie.audit.key import WHERE_TO_PUBLISH, AuditKey
from vigie.audit.models import HEAD, from_us
from vigie.audit.seals import reseal
from vigie.audit.sequencer import SequencerService, integrate_all
from vigie.audit.verify import verify_trail
from vigie.cli.context import console, err_console, instance, print_json
from vigie.cli.processors import operator
from vigie.errors import IntegrityError, InvalidInput

group = typer.Typer(
    help="The tamper-evident audit trail: every disclosure and operator action, hash-chained, "
    "in a Merkle tree whose heads (checkpoints) are signed with the instance's Ed25519 key.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(group, name="audit")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,  # stdout stays clean for --json
        transient=True,
    )


@group.command("verify")
def verify(
    ctx: typer.Context,
    held: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            help="A checkpoint you kept (the JSON of `vigie audit checkpoint --json`, or an "
            "export's `checkpoints.jsonl`): the trail must still hold it. Repeatable.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Exit 1 when the events after the last signed checkpoint exceed the bound "
        "(settings `audit_max_unanchored_events` / `audit_max_unanchored_seconds`).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    background: bool = typer.Option(
        False,
        "--background",
        help="Queue the verification for `vigie worker` and print the job id (progress and "
        "result in `vigie jobs show ID`).",
    ),
) -> None:
    """Re-check every event hash, chain link, checkpoint root and signature, and the
    served index (who received whom, which fields, when) against the events.

    Exits 0 when the whole trail verifies, every row of the served index is what the
    disclosure events say, the people flagged canaries are those the `canary:plant`
    events planted, each processor bears the name its `processor:create` event
    recorded, and every bucket of the sealed tables (registry and its dated versions,
    assignments, canary contacts, incident exposures) is what its last seal in the trail
    says. Also checks that every checkpoint row matches the
    `audit:checkpoint` event the chain recorded for it (none deleted, replaced or
    shrunk), and each checkpoint given with `--checkpoint` (its signature, and the
    trail's root at its size). Otherwise prints the **first** event, checkpoint or index
    row that does not verify and why (altered, removed, added, reordered, renumbered,
    truncated, wrongly signed), and exits 1.

    Then reports the **unanchored tail**: the events no signed checkpoint covers yet, and
    the age of the oldest. Beyond the configured bound, or with no checkpoint at all, it
    says `UNANCHORED` instead of `OK` (and exits 1 with `--strict`): those events could be
    removed or rewritten without trace.

    Finally reports the events committed by the gateway but not yet integrated into
    the chain by the sequencer (they are not part of what verifies yet): when the
    oldest has waited longer than `audit_max_pending_seconds`, it says `SEQUENCER
    LAGGING` and exits 1 — the sequencer is failing.
    """
    inst = instance(ctx)
    if background:
        if held or strict:
            raise InvalidInput("--background takes neither --checkpoint nor --strict")
        from vigie.jobs.tasks import submit_audit_verification

        with inst.session() as session:
            job = submit_audit_verification(session, actor=operator())
        console.print(f"Queued as job {job.id}: `vigie jobs show {job.id}` follows it.")
        return
    heads = [h for path in held or [] for h in parse_held(_read(path), source=str(path))]
    with inst.session() as session:
        total = session.scalar(select(HEAD.c.size).where(HEAD.c.id == 1)) or 0
    with _progress() as bar:
        task = bar.add_task("verifying", total=total)
        report = verify_trail(
            inst.engine,
            public_key=inst.secrets.audit_keys,
            progress=lambda n: bar.update(task, completed=n),
            held=heads,
        )
    now_us = time.time_ns() // 1000
    bound = Bound.of(inst.settings)
    unanchored: str | None = None
    try:
        require_anchored(report.tail, bound=bound, now_us=now_us)
    except IntegrityError as exc:
        if strict and not as_json:
            raise
        unanchored = str(exc)
    max_pending = inst.settings.audit_max_pending_seconds
    lagging = report.pending.age_seconds(now_us) > max_pending
    rate = report.events / report.seconds if report.seconds else 0.0
    if as_json:
        print_json(
            {
                "ok": True,
                "events": report.events,
                "checkpoints": report.checkpoints,
                "held": [h.id for h in heads],
                "anchored": unanchored is None,
                "unanchored": {
                    "events": report.tail.events,
                    "after_checkpoint": report.tail.checkpoint,
                    "oldest_at": None
                    if report.tail.oldest_us is None
                    else from_us(report.tail.oldest_us).isoformat(),
                    "age_seconds": round(report.tail.age_seconds(now_us), 3),
                },
                "pending": {
                    "events": report.pending.events,
                    "age_seconds": round(report.pending.age_seconds(now_us), 3),
                    "within_bound": not lagging,
                },
                "head_hash": report.head_hash.hex(),
                "root": report.root.hex(),
                "index_rows": report.index_rows,
                "pruned": report.pruned,
                "canaries": report.canaries,
                "processors": report.processors,
                "sealed": {
                    name: {"rows": s.rows, "buckets": s.buckets}
                    for name, s in (report.sealed or {}).items()
                },
                "seconds": round(report.seconds, 3),
            }
        )
        if lagging or (strict and unanchored is not None):
            raise typer.Exit(1)
        return
    done = f"{report.events} events and {report.checkpoints} checkpoints verify"
    timing = f"({report.seconds:.2f} s, {rate:,.0f} events/s)"
    if unanchored is None:
        console.print(f"[green]OK[/] {done} {timing}")
        console.print(f"unanchored tail: {report.tail.describe(now_us)}", highlight=False)
    else:
        console.print(f"[bold red]UNANCHORED[/] {done} as a chain {timing}, but:", highlight=False)
        console.print(unanchored.removeprefix("UNANCHORED: "), style="red", highlight=False)
    console.print(f"served index: {report.index_rows} rows, each what the events say")
    if report.pruned:
        console.print(
            f"pruned: {report.pruned} disclosures past retention (people removed), each "
            "leaf under a signed root and within an `audit:prune` horizon"
        )
    console.print(f"canaries: {report.canaries}, each planted by a `canary:plant` event")
    console.print(
        f"processors: {report.processors}, each named as its `processor:create` event says"
    )
    for name, sealed in (report.sealed or {}).items():
        console.print(
            f"{name}: {sealed.rows} rows in {sealed.buckets} buckets, each as last sealed",
            highlight=False,
        )
    for h in heads:
        console.print(f"held checkpoint #{h.id} ({h.size} events) matches the trail")
    console.print(f"root {report.root.hex()}", highlight=False)
    waited = report.pending.age_seconds(now_us)
    if lagging:
        console.print(
            f"[bold red]SEQUENCER LAGGING[/] {report.pending.events} committed events wait to "
            f"be integrated, the oldest for {waited:.1f} s (bound: {max_pending:g} s, "
            "`audit_max_pending_seconds`): is a `vigie serve` running its sequencer?",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(
        f"pending: {report.pending.events} committed events not yet integrated"
        + (f" (oldest {waited:.1f} s)" if report.pending.events else ""),
        highlight=False,
    )


@group.command("seal")
def seal(ctx: typer.Context) -> None:
    """Seal the rows of the sealed tables that no seal covers yet, as they are.

    For an instance whose registry, assignments, canary contacts or exposures were
    written before Vigie sealed them (`vigie audit verify` then says "holds rows that no
    seal covers"). One `audit:seal` event; a bucket already sealed is never re-sealed: one
    that differs from its seal is refused (exit 1). Check those rows before sealing them:
    whatever they hold becomes evidence.
    """
    inst = instance(ctx)
    with inst.session() as session:
        counts = reseal(session, actor=operator())
    if not counts:
        console.print("nothing to seal: every bucket is covered by a seal")
        return
    for name, n in counts.items():
        console.print(f"{name}: {n} buckets sealed", highlight=False)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read it ({type(exc).__name__})") from None


@group.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the checkpoint as JSON."),
) -> None:
    """Sign the current tree head (size, Merkle root, time) with the instance's audit key.

    Checkpoints are also taken automatically: by every command that appended audit
    events, when it ends, and by `vigie serve` (settings `audit_checkpoint_every_events`
    and `audit_checkpoint_every_seconds`). Publish or send the `--json` output to a third
    party: a checkpoint someone else holds is what makes rewriting history detectable
    (`vigie audit verify --checkpoint FILE`).
    """
    inst = instance(ctx)
    integrate_all(inst.engine)  # sign what was committed, pending or not
    with inst.session() as session:
        cp = take(session, signing_key=inst.secrets.signing_key, actor=operator())
        assert cp is not None
    head = proofs.SignedHead.of(cp).to_json()
    head["key_fingerprint"] = fingerprint(inst.secrets.verify_key)
    if as_json:
        print_json(head)
        return
    console.print(f"checkpoint [bold]#{cp.id}[/]: {cp.size} events, signed at {head['at']}")
    console.print(f"root      {head['root']}", highlight=False)
    console.print(f"key       {head['key_fingerprint']}", highlight=False)


@group.command("prove")
def prove(
    ctx: typer.Context,
    seq: int | None = typer.Argument(None, help="Sequence number of the event to prove."),
    checkpoint_id: int | None = typer.Option(
        None, "--checkpoint", help="Prove against this checkpoint (default: the latest)."
    ),
    consistency: tuple[int, int] | None = typer.Option(
        None,
        "--consistency",
        metavar="OLD NEW",
        help="Instead: prove checkpoint OLD's tree is a prefix of checkpoint NEW's.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the proof as JSON."),
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the JSON proof to this file.")
    ] = None,
) -> None:
    """Print an inclusion proof of event SEQ in a signed checkpoint (RFC 6962 audit path).

    With `--consistency OLD NEW`, print a consistency proof between two checkpoints
    instead. Proofs are checked before they are printed; a third party checks the JSON
    form alone with `python verify_trail.py --proof FILE --key KEY.pem --fingerprint HEX`
    (the script `vigie audit export` writes; the key and its fingerprint come from
    `vigie audit key`).
    """
    inst = instance(ctx)
    with inst.session() as session:
        if consistency is not None:
            proof: proofs.InclusionProof | proofs.ConsistencyProof = proofs.consistency(
                session, old_id=consistency[0], new_id=consistency[1]
            )
        elif seq is None:
            raise typer.BadParameter("give an event SEQ or --consistency OLD NEW")
        else:
            proof = proofs.inclusion(session, seq=seq, checkpoint_id=checkpoint_id)
    data = proof.to_json()
    if out is not None:
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        print_json(data)
        return
    if isinstance(proof, proofs.InclusionProof):
        cp = proof.checkpoint
        console.print(
            f"event [bold]{proof.seq}[/] is leaf {proof.seq - 1} of checkpoint #{cp.id} "
            f"({cp.size} events, root {cp.root.hex()[:16]}…)"
        )
        console.print(f"leaf hash {proof.leaf.hex()}", highlight=False)
    else:
        console.print(
            f"checkpoint #{proof.old.id} ({proof.old.size} events) is a prefix of "
            f"checkpoint #{proof.new.id} ({proof.new.size} events)"
        )
    for i, node in enumerate(proof.path):
        console.print(f"  {i:2d} {node.hex()}", highlight=False)
    console.print(f"{len(proof.path)} hashes ({32 * len(proof.path)} bytes); verified")


@group.command("export")
def export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="New or empty directory to write into.")],
) -> None:
    """Write the trail as plain files a regulator can verify without Vigie.

    Verifies the trail first (a broken trail is not exported), signs a fresh checkpoint,
    then writes `events.jsonl`, `checkpoints.jsonl`, `audit-signing.pub.pem`,
    `audit-keys.json` (the key history) and `verify_trail.py` (needs only Python and
    `cryptography`). Prints the signing key's
    fingerprint and the exact command a recipient runs:
    `python DIR/verify_trail.py DIR --fingerprint HEX`. The recipient must learn the
    fingerprint independently of the export (see `vigie audit key`).
    """
    inst = instance(ctx)
    with inst.session() as session:
        total = session.scalar(select(HEAD.c.size).where(HEAD.c.id == 1)) or 0
    with _progress() as bar:
        task = bar.add_task("exporting", total=total)
        report = export_trail(
            inst.engine,
            inst.sessions,
            out=out,
            secrets=inst.secrets,
            actor=operator(),
            progress=lambda n: bar.update(task, completed=n),
        )
    console.print(
        f"exported {report.events} events and {report.checkpoints} checkpoints to {out} "
        f"(signed by checkpoint #{report.checkpoint_id})"
    )
    console.print(f"signed by key {report.key.fingerprint}", highlight=False)
    console.print(
        f"check it with: {report.key.verify_command(out)}", highlight=False, soft_wrap=True
    )
    console.print(
        "(the recipient must learn this fingerprint independently of the export: "
        "see `vigie audit key`)",
        highlight=False,
    )


@group.command("sequence")
def sequence(ctx: typer.Context) -> None:
    """Run the audit sequencer in the foreground, until SIGTERM or Ctrl-C.

    On PostgreSQL, `vigie serve` commits each request's audit events unsequenced and a
    sequencer chains them and signs the checkpoints; every `vigie serve` worker runs one,
    and one of them is elected. This command runs one more, in a process of its own (on
    any host): it stands by until it is elected, then integrates every
    `audit_sequencer_poll_seconds` and takes over once the elected one's lease
    (`audit_sequencer_lease_seconds`) lapses, if it dies or is paused; a paused one that
    resumes is fenced off and stands by.
    A process of its own does not share its CPU and interpreter with requests. On stop,
    if elected, it integrates what is left and signs a last checkpoint.
    """
    inst = instance(ctx)
    checkpointer = Checkpointer.from_settings(inst.settings, inst.sessions, inst.secrets)
    service = SequencerService(
        inst.engine,
        checkpointer,
        poll=inst.settings.audit_sequencer_poll_seconds,
        lease_seconds=inst.settings.audit_sequencer_lease_seconds,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service.start()
    err_console.print("audit sequencer started: standing by until elected")
    while not stop.wait(0.5):
        if service.elected.is_set():
            err_console.print("audit sequencer elected: integrating")
            break
    stop.wait()
    service.stop()
    err_console.print("audit sequencer stopped")


@group.command("key")
def key(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the key as JSON."),
) -> None:
    """Print the audit signing key's fingerprint and public key (PEM).

    Exports and proofs are checked against this fingerprint
    (`python verify_trail.py DIR --fingerprint HEX`), never against the key an export
    carries: a forger can rewrite an export and re-sign it with a key of their own. So
    publish the fingerprint where recipients learn it independently of any export: it is
    in every authority notification pack; give it to auditors and courts by another
    channel too.
    """
    secrets = instance(ctx).secrets
    card = AuditKey.of(secrets.verify_key)
    retired = secrets.audit_keys.fingerprints[:-1]  # after `vigie secrets rotate audit-signing`
    if as_json:
        print_json(
            {
                "algorithm": "Ed25519",
                "fingerprint": card.fingerprint,
                "fingerprint_of": "SHA-256 of the raw 32-byte public key",
                "public_key_pem": card.pem,
                "retired_fingerprints": retired,
                "where_to_publish": WHERE_TO_PUBLISH,
            }
        )
        return
    console.print("audit signing key (Ed25519)")
    console.print(f"fingerprint {card.fingerprint}", highlight=False, soft_wrap=True)
    console.print(card.pem, highlight=False, end="", soft_wrap=True)
    for old in retired:
        console.print(f"retired key {old} (still verifies what it signed)", highlight=False)
    console.print(WHERE_TO_PUBLISH, highlight=False)
