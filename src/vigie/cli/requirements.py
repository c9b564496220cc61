"""`vigie requirements`: the providers' requirements as code, their standing, attestations."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from vigie.breach.channels import Channel, from_settings
from vigie.breach.clock import SystemClock
from vigie.cli.applied import print_summary, show
from vigie.cli.context import console, err_console, instance, print_json
from vigie.cli.processors import operator
from vigie.errors import InvalidInput
from vigie.processors.directory import get_processor
from vigie.processors.spec import SpecRejected, format_problem
from vigie.requirements.apply import ApplyResult, apply_file
from vigie.requirements.attestations import Submission, attestations_dir, record_attestation
from vigie.requirements.campaigns import acknowledge, progress, send_notices, start_campaign
from vigie.requirements.enforce import enforce, warn_by_mail
from vigie.requirements.inspections import load_findings, record_inspection
from vigie.requirements.report import compliance, to_csv, to_html
from vigie.requirements.spec import load_requirements
from vigie.requirements.standing import standings
from vigie.settings import Settings
from vigie.store.base import utcnow

group = typer.Typer(
    help="Security and contractual requirements on every processor, kept as code.\n\n"
    "Write the baseline (see docs/requirements.md), preview with `vigie requirements apply "
    "FILE --dry-run`, apply it, then follow each processor with `vigie requirements status`.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def print_problems(exc: SpecRejected) -> None:
    """Every problem of a rejected file, one a line, on stderr."""
    for path, reason, line in exc.problems:
        err_console.print(
            format_problem(path, reason, line), markup=False, highlight=False, soft_wrap=True
        )


def _render(result: ApplyResult) -> None:
    for change in result.changes:
        what = f"requirement {change.requirement} v{change.version}"
        if change.op == "create":
            console.print(Text(f"+ {what}", style="green"))
        else:
            console.print(Text(f"~ {what}", style="yellow"))
            for name, (old, new) in change.diff.items():
                console.print(Text(f"    {name}: {show(old)} → {show(new)}"), highlight=False)
    print_summary(
        unmanaged=result.unmanaged,
        changes=len(result.changes),
        dry_run=result.dry_run,
        matched="the baseline",
    )


@group.command("apply")
def apply(
    ctx: typer.Context,
    file: Path = typer.Argument(  # noqa: B008 (typer declares arguments this way)
        ..., help="The requirements file (YAML).", dir_okay=False
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the diff; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the changes as JSON."),
) -> None:
    """Make the baseline of requirements match FILE, and print what changed.

    A new requirement or a higher version is added; versions are never changed in place.
    Refused, with the place in the file, and nothing applied: malformed YAML, an id reused
    with another meaning, a version changed without raising it, a deadline in the past.
    """
    inst = instance(ctx)
    try:
        with inst.session() as session:
            result = apply_file(session, path=file, actor=operator(), now=utcnow(), dry_run=dry_run)
    except SpecRejected as exc:
        print_problems(exc)
        raise
    if as_json:
        data = asdict(result)
        for change in data["changes"]:
            change["diff"] = {k: {"old": o, "new": n} for k, (o, n) in change["diff"].items()}
        print_json(data)
        return
    _render(result)


_PHASE_STYLE = {"met": "green", "warning": "yellow", "overdue": "bold red"}


@group.command("status")
def status(
    ctx: typer.Context,
    processor: str | None = typer.Argument(None, help="One processor's handle (default: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Each provider's standing on each requirement: met, warning (before the deadline) or
    overdue (after it: the requirement's consequence applies), with the reasons."""
    inst = instance(ctx)
    with inst.session() as session:
        rows = standings(session, at=utcnow(), processor=processor)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    table = Table(title="Requirements: standing of each provider")
    for column in ("processor", "requirement", "kind", "state", "deadline", "consequence", "why"):
        table.add_column(column)
    for r in rows:
        style = _PHASE_STYLE[r.phase]
        state = r.state if r.phase == "met" else f"{r.state} ({r.phase})"
        table.add_row(
            r.processor,
            f"{r.requirement} v{r.version}",
            r.kind,
            Text(state, style=style),
            r.deadline,
            r.consequence,
            Text("; ".join(r.reasons) or "—"),
        )
    console.print(table)


@group.command("attest")
def attest(
    ctx: typer.Context,
    processor: str = typer.Argument(..., help="The processor's handle."),
    requirement: str = typer.Argument(..., help="The attested requirement's id."),
    file: Path = typer.Option(  # noqa: B008 (typer declares options this way)
        ..., "--file", help="The evidence (a PDF).", dir_okay=False
    ),
    expires: datetime = typer.Option(  # noqa: B008
        ..., "--expires", formats=["%Y-%m-%d"], help="Last day the attestation holds."
    ),
    statement: str = typer.Option(
        "Attestation received from the processor and recorded by the DPO.",
        "--statement",
        help="The processor's statement, in its words.",
    ),
) -> None:
    """Record an attestation the processor gave the DPO (a signed letter, a certificate).

    The evidence must be a PDF; it is kept under its SHA-256, which the audit trail
    records with the expiry. After the expiry the requirement counts as missing again.
    """
    inst = instance(ctx)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None
    with inst.session() as session:
        row = record_attestation(
            session,
            processor=get_processor(session, name=processor),
            submission=Submission(
                requirement=requirement,
                statement=statement,
                expires_on=expires.date(),
                document=data,
            ),
            actor=operator(),
            store_dir=attestations_dir(inst.settings.data_dir),
            now=utcnow(),
            require_signature=False,
            max_bytes=inst.settings.attestation_max_bytes,
        )
        seq, digest = row.audit_seq, row.document_sha256
    console.print(
        f"Attestation of {requirement} v{row.version} recorded for {processor} until "
        f"{expires.date()} (evidence SHA-256 {digest}, audit event {seq}).",
        highlight=False,
    )


@group.command("audit-record")
def audit_record(
    ctx: typer.Context,
    processor: str = typer.Argument(..., help="The processor's handle."),
    held_on: datetime = typer.Option(  # noqa: B008
        ..., "--date", formats=["%Y-%m-%d"], help="The day of the audit."
    ),
    findings: Path = typer.Option(  # noqa: B008
        ..., "--findings", help="YAML file of findings (text, deadline, closed).", dir_okay=False
    ),
) -> None:
    """Record the controller's audit of a processor (on site or on documents) and its
    findings; the `controller-audit` requirement checks its age and overdue findings."""
    inst = instance(ctx)
    try:
        items = load_findings(findings)
    except SpecRejected as exc:
        print_problems(exc)
        raise
    with inst.session() as session:
        row = record_inspection(
            session, processor=get_processor(session, name=processor), held_on=held_on.date(),
            findings=items, actor=operator(), now=utcnow(),
        )  # fmt: skip
        seq = row.audit_seq
    console.print(
        f"Audit of {processor} on {held_on.date()} recorded: {len(items)} finding(s), "
        f"audit event {seq}.",
        highlight=False,
    )


def _mail_channel(settings: Settings) -> Channel:
    return from_settings(settings, names=("email",), incident_id=0)["email"]


@group.command("enforce")
def enforce_(
    ctx: typer.Context,
    processor: str | None = typer.Argument(None, help="One processor's handle (default: all)."),
    notify: bool = typer.Option(
        False, "--notify", help="E-mail each newly warned provider's contact (in French)."
    ),
) -> None:
    """Warn before deadlines and apply each overdue requirement's consequence (refuse new
    keys, reduce the budget, suspend), once, each audited with the requirement as reason.
    Run it daily (cron or a timer); a second run at the same state changes nothing."""
    inst = instance(ctx)
    now = utcnow()
    with inst.session() as session:
        done = enforce(session, now=now, processor=processor)
    for d in done:
        what = f"{d.requirement} v{d.version}" if d.requirement else ""
        console.print(f"{d.processor}: {d.action} {what} — {d.detail}", highlight=False)
    if not done:
        console.print("Nothing to do: no new warning, no new consequence.")
    if notify and done:
        sent = warn_by_mail(
            inst.sessions, done=done, channel=_mail_channel(inst.settings),
            controller=inst.settings.controller_legal_name, now=now,
        )  # fmt: skip
        console.print(f"{sent} warning e-mail(s) handed to the mail server.")


@group.command("campaign")
def campaign(
    ctx: typer.Context,
    file: Path = typer.Argument(  # noqa: B008
        ..., help="The raised requirements file (YAML).", dir_okay=False
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what it raises; write nothing."),
    mail: bool = typer.Option(True, "--mail/--no-mail", help="E-mail every provider now."),
) -> None:
    """Raise the baseline for every provider at once: apply FILE (as `apply` does), then
    e-mail each provider's contact the new requirements, deadlines and consequences (in
    French), and follow acknowledgements and attestations with `campaign-status`."""
    inst = instance(ctx)
    try:
        with inst.session() as session:
            started = start_campaign(
                session, parsed=load_requirements(file), actor=operator(), now=utcnow(),
                dry_run=dry_run,
            )  # fmt: skip
    except SpecRejected as exc:
        print_problems(exc)
        raise
    _render(started.applied)
    if started.campaign_id is None:
        console.print(f"Dry run: {started.providers} provider(s) would be notified.")
        return
    console.print(
        f"Campaign {started.campaign_id} started for {started.providers} provider(s).",
        highlight=False,
    )
    if mail:
        sent = send_notices(
            inst.sessions, campaign_id=started.campaign_id,
            channel=_mail_channel(inst.settings),
            controller=inst.settings.controller_legal_name, clock=SystemClock(),
        )  # fmt: skip
        console.print(
            f"E-mail: {sent.sent} sent, {sent.failed} refused, {sent.pending} to retry "
            f"(`vigie requirements campaign-status {started.campaign_id} --resend`).",
            highlight=False,
        )


@group.command("campaign-status")
def campaign_status(
    ctx: typer.Context,
    campaign_id: int = typer.Argument(..., help="The campaign's number."),
    resend: bool = typer.Option(False, "--resend", help="Retry the e-mails not sent yet."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Each provider's progress on a campaign: e-mail sent, acknowledged, how many of the
    raised requirements it meets now."""
    inst = instance(ctx)
    if resend:
        send_notices(
            inst.sessions, campaign_id=campaign_id, channel=_mail_channel(inst.settings),
            controller=inst.settings.controller_legal_name, clock=SystemClock(),
        )  # fmt: skip
    with inst.session() as session:
        rows = progress(session, campaign_id=campaign_id, at=utcnow())
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table(title=f"Campaign {campaign_id}")
    for column in ("processor", "e-mail", "acknowledged", "meets", "still missing"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.processor, r.notice, r.acknowledged_at or "—", f"{r.met}/{r.total}",
            ", ".join(r.unmet) or "—",
        )  # fmt: skip
    console.print(table)


@group.command("acknowledge")
def acknowledge_(
    ctx: typer.Context,
    processor: str = typer.Argument(..., help="The processor's handle."),
    campaign_id: int = typer.Argument(..., help="The campaign's number."),
) -> None:
    """Record a provider's acknowledgement received otherwise than through the API."""
    inst = instance(ctx)
    with inst.session() as session:
        acknowledge(
            session, campaign_id=campaign_id, processor=get_processor(session, name=processor),
            actor=operator(), now=utcnow(),
        )  # fmt: skip
    console.print(f"Campaign {campaign_id} acknowledged by {processor}.", highlight=False)


@group.command("report")
def report(
    ctx: typer.Context,
    out: Path = typer.Option(  # noqa: B008
        ..., "--out", help="Directory for compliance.csv and compliance.pdf.", file_okay=False
    ),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write compliance.pdf."),
) -> None:
    """Compliance across all providers: providers × requirements with state, deadline and
    evidence (CSV, PDF), and each provider's trend since the last campaign."""
    inst = instance(ctx)
    with inst.session() as session:
        data = compliance(session, at=utcnow())
    out.mkdir(parents=True, exist_ok=True)
    (out / "compliance.csv").write_text(to_csv(data), encoding="utf-8")
    if pdf:
        from weasyprint import HTML

        HTML(string=to_html(data)).write_pdf(out / "compliance.pdf")
    met = sum(1 for r in data.rows if r.state == "met")
    console.print(
        f"{met} of {len(data.rows)} provider requirements met; written to {out}.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(group, name="requirements")
