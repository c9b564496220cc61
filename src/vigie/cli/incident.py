"""`vigie incident`: open and follow breach incidents, their 72-hour clock and notifications."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import select

from vigie.audit.anchors import Bound
from vigie.breach import incidents
from vigie.breach.assessment import assess_incident, overrule_incident
from vigie.breach.authority import prepare_pack, write_pack
from vigie.breach.channels import Outgoing, channel_names, from_settings
from vigie.breach.clock import SystemClock
from vigie.breach.fonts import prepare
from vigie.breach.from_leak import load_report, open_from_leak
from vigie.breach.notify import check_notice, context_for, send_notices
from vigie.breach.public import draft_public_notice, unreachable
from vigie.breach.register import export as export_register
from vigie.breach.risk import Recipients
from vigie.breach.views import incident_detail, incident_row
from vigie.cli.context import console, err_console, instance, print_json
from vigie.errors import InvalidInput, NotFound
from vigie.processors.models import Processor

ACTOR = "operator:cli"

group = typer.Typer(
    help="Breach incidents: the 72-hour clock (Art. 33), the risk assessment, the authority "
    "pack, notices to each affected person (Art. 34) and the breach register (Art. 33(5)).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"not an ISO 8601 date-time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@group.command("open")
def open_(
    ctx: typer.Context,
    title: str = typer.Option("", help="What happened, in one line (not needed with --from-leak)."),
    source: str = typer.Option("manual", help="leak, alert, canary or manual."),
    aware_at: str | None = typer.Option(
        None,
        help="When the controller became aware (ISO 8601; default now). Starts the 72-hour "
        "clock of Art. 33(1).",
    ),
    processor: str | None = typer.Option(None, help="Handle of the processor involved."),
    summary: str = typer.Option("", help="A few sentences on the facts (no personal data)."),
    from_leak: Path | None = typer.Option(  # noqa: B008 (typer declares options this way)
        None,
        "--from-leak",
        help="A leak report (`vigie leak analyze --json`): opens the incident with the "
        "attributed processor, the report as evidence and every person's exposed fields.",
        exists=True,
        dir_okay=False,
    ),
) -> None:
    """Open an incident, by hand or from a leak analysis report; prints its id and clock."""
    inst = instance(ctx)
    clock = SystemClock()
    with inst.session() as session:
        if from_leak is not None:
            incident = open_from_leak(
                session,
                report=load_report(from_leak),
                actor=ACTOR,
                aware_at=_parse_time(aware_at),
                report_ref=from_leak.name,
                clock=clock,
            )
        else:
            processor_id = None
            if processor:
                found = session.scalars(select(Processor).where(Processor.name == processor))
                match = found.first()
                if match is None:
                    raise NotFound(f"no processor {processor!r}")
                processor_id = match.id
            incident = incidents.open_incident(
                session,
                title=title,
                source=source,
                aware_at=_parse_time(aware_at) or clock.now(),
                actor=ACTOR,
                processor_id=processor_id,
                summary=summary,
                clock=clock,
            )
        row = incident_row(session, incident, now=clock.now())
    console.print(
        f"incident {row['id']} opened: {row['title']} — {row['people']} people; "
        f"authority notification due {row['deadline']} ({row['time_left']})"
    )


@group.command("list")
def list_(
    ctx: typer.Context,
    status: str | None = typer.Option(None, help="Only `open` or `closed` incidents."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List incidents, newest first, with the time left on each 72-hour clock."""
    inst = instance(ctx)
    now = SystemClock().now()
    with inst.session() as session:
        rows = [
            incident_row(session, i, now=now)
            for i in incidents.list_incidents(session, status=status)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "title", "source", "status", "processor", "people", "risk", "time left")
    for r in rows:
        table.add_row(
            str(r["id"]), r["title"], r["source"], r["status"], r["processor"] or "-",
            str(r["people"]), r["risk"] or "-", r["time_left"],
        )  # fmt: skip
    console.print(table)


@group.command("show")
def show(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id (see `vigie incident list`)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show an incident: clock, evidence, exposure by field, risk, and its timeline."""
    inst = instance(ctx)
    with inst.session() as session:
        data = incident_detail(session, incident_id=incident_id, now=SystemClock().now())
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]incident {data['id']}[/bold]: {data['title']}", highlight=False)
    console.print(
        f"status {data['status']}, source {data['source']}, processor "
        f"{data['processor'] or '-'}; aware {data['aware_at']}, due {data['deadline']} "
        f"([bold]{data['time_left']}[/bold])"
    )
    exp = data["exposure"]
    console.print(f"people exposed: {exp['people']}")
    for name, count in exp["by_field"].items():
        console.print(f"  {name}: {count}")
    if data["risk_assessment"]:
        console.print(f"risk: {data['risk_assessment']['decision']}")
    table = Table("at", "kind", "actor", "summary", "audit seq")
    for e in data["timeline"]:
        table.add_row(e["at"], e["kind"], e["actor"], e["summary"], str(e["audit_seq"]))
    console.print(table)


@group.command("assess")
def assess_(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    malicious: bool = typer.Option(
        False, help="The data was taken with malicious intent (e.g. offered for sale)."
    ),
    encrypted: bool = typer.Option(
        False, help="Exposed only encrypted, with a key that was not compromised (34(3)(a))."
    ),
    neutralised: str | None = typer.Option(
        None,
        help="The measure that makes the risk no longer likely (e.g. a trusted recipient "
        "deleted what was sent by mistake): exempts a high risk from notices (Art. 34(3)(b)); "
        "makes a low risk a register-only entry (Art. 33(1)).",
    ),
    disproportionate: str | None = typer.Option(
        None, help="Art. 34(3)(c): why telling each person would be disproportionate."
    ),
    profiling: bool = typer.Option(
        False,
        help="The exposed data allows profiling the person or assumptions about their social "
        "or financial status (e.g. CVs: education, work history): ENISA raises simple data "
        "from 1 to 2. Names, postal address and birth date together raise it without this "
        "flag (identity theft).",
    ),
    recipients: Annotated[
        Recipients | None,
        typer.Option(
            help="Who received the data (ENISA): `none` = exposed, no evidence anyone read "
            "it (a stolen device; +0); `known` = known recipients (a former employee, a "
            "misdirected file; +0.25); `unknown` = an unknown number of unknown recipients "
            "(exfiltrated by malicious code, published, on sale; +0.5). Not given: counted "
            "as +0 and the reasoning says it was not declared.",
        ),
    ] = None,
) -> None:
    """Assess the risk (EDPB factors) and decide on Art. 33 and Art. 34, with reasons.

    Weighs the registry's declared population context (`vigie subjects population`):
    what being in the registry reveals, and whether its people are vulnerable; and the
    facts declared here (intent, recipients, profiling, encryption, measures)."""
    inst = instance(ctx)
    with inst.session() as session:
        result = assess_incident(
            session,
            incident_id=incident_id,
            actor=ACTOR,
            malicious=malicious,
            encrypted=encrypted,
            risk_neutralised=neutralised,
            disproportionate_effort=disproportionate,
            profiling_possible=profiling,
            recipients=recipients,
        )
    for f in result.factors:
        console.print(f"- {f.name} ({f.rating}): {f.reason}", highlight=False)
    console.print(f"[bold]{result.level}[/bold] ({result.severity}): {result.decision}")


@group.command("overrule")
def overrule_(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    notify_people: bool = typer.Option(
        ...,
        "--notify-people/--no-notify-people",
        help="The DPO's decision: tell each person (Art. 34), or not.",
    ),
    reason: str = typer.Option(..., help="Why the DPO decides otherwise (recorded)."),
) -> None:
    """Record the DPO's Art. 34 decision over the risk assessment, with the reason; the
    computed assessment is kept beside it. A new `assess` replaces both."""
    inst = instance(ctx)
    with inst.session() as session:
        result = overrule_incident(
            session,
            incident_id=incident_id,
            notify_people=notify_people,
            reason=reason,
            actor=ACTOR,
        )
    console.print(result.decision, highlight=False)


@group.command("processor-duty")
def processor_duty(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    informed_at: str | None = typer.Option(
        None, help="When the processor informed the controller (ISO 8601)."
    ),
    how: str | None = typer.Option(None, help="How (e.g. 'e-mail to the DPO')."),
    not_informed: bool = typer.Option(
        False, "--not-informed", help="Record that the processor did not inform the controller."
    ),
    note: str | None = typer.Option(None, help="What is known about it."),
) -> None:
    """Record the processor's own Art. 33(2) duty: when and how it told the controller."""
    if not_informed == (informed_at is not None):
        raise InvalidInput("give either --informed-at or --not-informed")
    inst = instance(ctx)
    with inst.session() as session:
        incidents.record_processor_duty(
            session,
            incident_id=incident_id,
            actor=ACTOR,
            informed_at=_parse_time(informed_at),
            how=how,
            note=note,
        )
    console.print(f"incident {incident_id}: processor duty recorded")


@group.command("close")
def close(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    reason: str = typer.Option(..., help="Why it is closed; it stays in the register."),
) -> None:
    """Close an incident (it stays in the breach register)."""
    inst = instance(ctx)
    with inst.session() as session:
        incidents.close_incident(session, incident_id=incident_id, actor=ACTOR, reason=reason)
    console.print(f"incident {incident_id} closed")


@group.command("publish")
def publish(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    withdraw: bool = typer.Option(False, "--withdraw", help="Take the page off instead."),
) -> None:
    """Put the incident's public page (the public notice, how to recognise a genuine
    message, questions and answers) on the public service at /incidents/ID, or take it
    off with --withdraw. Either way it is a decision on the incident's timeline."""
    from vigie.public import incident_pages

    inst = instance(ctx)
    with inst.session() as session:
        act = incident_pages.withdraw if withdraw else incident_pages.publish
        act(session, incident_id=incident_id, actor=ACTOR)
    state = "withdrawn from" if withdraw else "published on"
    console.print(
        f"incident {incident_id}: page {state} the public service (/incidents/{incident_id})"
    )


@group.command("notify")
def notify(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    channel: str = typer.Option(
        "email",
        help="email (SMTP, VIGIE_SMTP_*), sms (the outbox provider), letter (PDFs for the "
        "printer) or all.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Render every notice and count them; send nothing."
    ),
    despite_assessment: str | None = typer.Option(
        None,
        "--despite-assessment",
        metavar="REASON",
        help="Send even though the risk assessment does not call for notices; the reason "
        "goes on the incident's timeline and in the audit trail.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Send each affected person their notice, in their language, listing their exposed
    fields. Idempotent and resumable: run it again after a crash and every remaining
    notice is sent once; nothing already sent is sent again."""
    inst = instance(ctx)
    settings = inst.settings
    with inst.session() as session:
        context = context_for(settings, session, incident_id=incident_id)
        total = incidents.exposure_count(session, incident_id=incident_id)
    try:
        names = channel_names(channel)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    channels = {} if dry_run else from_settings(settings, names=names, incident_id=incident_id)
    if dry_run:
        channels = {name: _DryRun(name) for name in names}
    stop = _StopFlag()
    with stop.installed(), Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("notices", total=total)
        report = send_notices(
            inst.sessions,
            incident_id=incident_id,
            context=context,
            channels=channels,
            secrets=inst.secrets,
            lock_dir=settings.data_dir / "locks",
            actor=ACTOR,
            bound=Bound.of(settings),
            dry_run=dry_run,
            despite_assessment=despite_assessment,
            progress=lambda done, _total: bar.update(task, completed=done),
            should_stop=stop,
        )
    if as_json:
        print_json(report.as_dict())
        return
    verb = "would send" if dry_run else "sent"
    sent = ", ".join(f"{n} {c}" for c, n in report.sent.items()) or "nothing"
    console.print(
        f"incident {incident_id}: {report.people} people; {verb} {sent}; "
        f"{report.already} already done, {report.bounced} bounced, {report.failed} failed, "
        f"{report.no_contact} without contact"
    )
    if report.failed:
        console.print("some notices failed temporarily: run the command again to retry them")
    if report.interrupted:
        err_console.print("interrupted at a clean point: run the command again to finish")
        raise typer.Exit(130)


class _StopFlag:
    """Turns SIGTERM and SIGINT into a request to stop between two notices."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@group.command("authority-pack")
def authority_pack(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    out: Path = typer.Option(..., "--out", help="Directory to write the pack into."),  # noqa: B008
    complementary: bool = typer.Option(
        False,
        "--complementary",
        help="Prepare the next phase (Art. 33(4)); it lists what changed since the last one.",
    ),
    no_pdf: bool = typer.Option(False, "--no-pdf", help="Only JSON and Markdown."),
) -> None:
    """Write the CNIL notification pack (Art. 33(3)), pre-filled from the evidence, as
    JSON, Markdown and PDF."""
    inst = instance(ctx)
    with inst.session() as session:
        row = prepare_pack(
            session,
            inst.settings,
            incident_id=incident_id,
            actor=ACTOR,
            audit_key=inst.secrets.verify_key,
            audit_keys=inst.secrets.audit_keys,
            complementary=complementary,
        )
        paths = write_pack(row, out_dir=out, pdf=not no_pdf)
        changed = len(row.content["phase"]["changes_since_previous"])
        left = row.content["breach"]["time_left"]
    for kind, path in paths.items():
        console.print(f"{kind}: {path}", highlight=False)
    console.print(f"phase {row.phase}; {changed} change(s) since the previous phase; {left}")


@group.command("register")
def register_(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="File to write: .csv or .json."),  # noqa: B008
) -> None:
    """Export the breach register (Art. 33(5)): every incident, notified or not, with
    facts, effects, remedial action and the notification decisions."""
    inst = instance(ctx)
    with inst.session() as session:
        count = export_register(session, out=out)
    console.print(f"{count} incident(s) written to {out}", highlight=False)


@group.command("record")
def record(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    effects: str | None = typer.Option(None, help="Effects of the breach (register)."),
    remedial_action: str | None = typer.Option(None, help="Remedial action taken (register)."),
    delay_reason: str | None = typer.Option(
        None, help="Why the authority is notified after 72 hours (Art. 33(1))."
    ),
    measure: str | None = typer.Option(
        None, help="A measure taken, put on the timeline (e.g. 'keys rotated')."
    ),
) -> None:
    """Record register entries (effects, remedial action, delay reason) or a measure."""
    inst = instance(ctx)
    with inst.session() as session:
        if effects is not None or remedial_action is not None or delay_reason is not None:
            incidents.update_register(
                session,
                incident_id=incident_id,
                actor=ACTOR,
                effects=effects,
                remedial_action=remedial_action,
                delay_reason=delay_reason,
            )
        if measure:
            incidents.record_decision(
                session, incident_id=incident_id, kind="measure", summary=measure, actor=ACTOR
            )
    console.print(f"incident {incident_id}: recorded")


@group.command("public-notice")
def public_notice(
    ctx: typer.Context,
    incident_id: int = typer.Argument(..., help="Incident id."),
    out: Path = typer.Option(..., "--out", help="Directory to write the notice into."),  # noqa: B008
) -> None:
    """Draft the public communication (Art. 34(3)(c)) for the people no notice reached,
    in French, English and their languages (Markdown, HTML, PDF); lists them by ref."""
    inst = instance(ctx)
    settings = inst.settings
    with inst.session() as session:
        context = context_for(settings, session, incident_id=incident_id)
        missed = unreachable(session, incident_id=incident_id)
        notice = draft_public_notice(
            session,
            incident_id=incident_id,
            context=context,
            out_dir=out,
            prepared=prepare(settings.data_dir / "cache" / "fonts"),
        )
    listing = out / f"unreachable-incident-{incident_id}.csv"
    with listing.open("w", encoding="utf-8") as f:
        f.write("ref,language,reasons\n")
        for person in missed:
            reasons = ";".join(f"{c}={s}" for c, s in sorted(person.reasons.items()))
            f.write(f"{person.ref},{person.language},{reasons}\n")
    console.print(
        f"{len(missed)} people not reached (listed in {listing}); public notice in "
        f"{', '.join(notice.languages)}: {notice.markdown}, {notice.pdf}",
        highlight=False,
    )


@group.command("verify-code")
def verify_code_(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="The person's file number (ref)."),
    code: str = typer.Argument(..., help="The code printed on the notice."),
) -> None:
    """Check that a notice is genuine: its code matches a notice sent to that person."""
    inst = instance(ctx)
    with inst.session() as session:
        found = check_notice(session, inst.secrets, ref=ref, code=code)
    console.print(f"genuine: notice of incident {found.incident_id} ({found.channels})")


class _DryRun:
    """A channel that is never used (dry runs stop before delivery)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def deliver(self, message: Outgoing, *, commit: Callable[[], None]) -> None:
        raise AssertionError("a dry run delivers nothing")

    def close(self) -> None:
        pass


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(group, name="incident")
