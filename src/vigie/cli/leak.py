"""`vigie leak`: triage a leaked file, list stored analyses, purge old ones."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from vigie.cli.context import console, err_console, instance, print_json
from vigie.cli.processors import operator

if TYPE_CHECKING:
    from vigie.leaks.report import LeakReport

group = typer.Typer(
    help="Leak triage: what a leaked file holds, whose data it is, which subcontractor it "
    "came from and since when.\n\nRun `vigie leak analyze FILE...` on the files as found "
    "(CSV in any delimiter and encoding, JSON, JSON Lines, SQL dumps, XLSX). The report is "
    "kept encrypted for `leak_retention_days` and then purged (see docs/leaks.md).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def _summary(report: LeakReport) -> None:
    style = {
        "authentic": "bold red",
        "mixed": "bold yellow",
        "fabricated": "bold green",
        "undetermined": "bold yellow",
    }
    console.print(
        Text.assemble(
            "Verdict: ",
            (report.verdict, style.get(report.verdict, "bold")),
            f" — {report.linked_text()}; {report.affected_text()}",
        ),
        highlight=False,
    )
    for warning in report.warnings():
        console.print(Text.assemble(("Not searched: ", "bold yellow"), warning), highlight=False)
    columns = Table(title="Columns", show_lines=False)
    for name in ("file", "header", "kind", "via", "fit", "values"):
        columns.add_column(name)
    for c in report.columns:
        columns.add_row(
            Text(c["file"]),
            Text(c["header"]),
            c["kind"],
            c["via"],
            f"{c['share']:.2f}",
            c.get("evidence") or "",
        )
    console.print(columns)
    if report.attribution:
        table = Table(title="Attribution (strongest first)")
        for name in ("processor", "confidence", "false-attribution probability"):
            table.add_column(name)
        for a in report.attribution:
            table.add_row(
                Text(a["processor"]),
                f"{a['confidence']:.6f}",
                f"{a['false_attribution_probability']:.2e}",
            )
        console.print(table)
    else:
        console.print("Attribution: nobody is named.")
    console.print(Text(report.attribution_note, style="dim"))
    w = report.leak_window
    if w:
        latest = w["latest"] or "now (values still current)"
        console.print(f"Data taken between {w['earliest']} and {latest}.", highlight=False)


@group.command("analyze")
def analyze_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(help="Leaked files to analyse together (a dump split or merged)."),
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON to this file.")
    ] = None,
    html_out: Annotated[
        Path | None,
        typer.Option("--html", help="Write a report a DPO can read (HTML, charts) to this file."),
    ] = None,
    affected_out: Annotated[
        Path | None,
        typer.Option(
            "--affected-out",
            help="Write one CSV row per affected person: `ref`, then `exposed_<field>` "
            "(`yes` or empty) per field exposed.",
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Keep, for every linked row, why it was linked (each field's weight), "
            "for `vigie leak explain` and the JSON report.",
        ),
    ] = False,
    background: Annotated[
        bool,
        typer.Option(
            "--background",
            help="Queue the analysis for `vigie worker` and print the job id; follow it with "
            "`vigie jobs show ID` (the outputs above are written by the worker).",
        ),
    ] = False,
) -> None:
    """Triage leaked files: authenticity, affected people, exposed fields, source, dates.

    The files are read as hostile input and never executed; nothing of their content is
    logged. The report is stored encrypted (purged after `leak_retention_days`) and the
    analysis is audited (`leak:analyze`, counts only). Reports older than the retention
    period are purged first.
    """
    from vigie.leaks.analyze import analyze
    from vigie.leaks.vault import purge, store_report

    inst = instance(ctx)
    actor = operator()
    if background:
        from vigie.jobs.tasks import submit_leak_analysis

        outputs = {"json_out": json_out, "html_out": html_out, "affected_out": affected_out}
        with inst.session() as session:
            job = submit_leak_analysis(
                session, paths=files, actor=actor, outputs=outputs, explain=explain
            )
        console.print(f"Queued as job {job.id}: `vigie jobs show {job.id}` follows it.")
        return
    with (
        inst.session() as session,
        console.status("reading files", spinner="dots") as status,
    ):
        purge(session, actor=actor)
        report = analyze(
            session,
            paths=files,
            secrets=inst.secrets,
            settings=inst.settings,
            progress=lambda stage: status.update(stage),
            explain=explain,
        )
        report.stored_id = store_report(
            session, report=report, secrets=inst.secrets, settings=inst.settings, actor=actor
        )
    _summary(report)
    if json_out:
        report.write_json(json_out)
        err_console.print(f"JSON report written to {json_out}", highlight=False)
    if html_out:
        report.write_html(html_out)
        err_console.print(f"HTML report written to {html_out}", highlight=False)
    if affected_out:
        report.write_affected_csv(affected_out)
        err_console.print(f"Affected people written to {affected_out}", highlight=False)


@group.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List stored leak analyses (counts and verdict only; reports stay encrypted)."""
    from vigie.leaks.vault import list_reports

    inst = instance(ctx)
    with inst.session() as session:
        rows: list[dict[str, Any]] = [
            {
                "id": r.id,
                "created_at": r.created_at.isoformat(),
                "purge_after": r.purge_after.isoformat(),
                "files": r.files,
                "rows": r.rows,
                "matched_rows": r.matched_rows,
                "affected_subjects": r.affected_subjects,
                "verdict": r.verdict,
            }
            for r in list_reports(session)
        ]
    if as_json:
        print_json(rows)
        return
    table = Table(title="Stored leak analyses")
    for name in ("id", "created", "purge after", "rows", "matched", "affected", "verdict"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["created_at"][:19],
            r["purge_after"][:10],
            str(r["rows"]),
            str(r["matched_rows"]),
            str(r["affected_subjects"]),
            r["verdict"],
        )
    console.print(table)


@group.command("explain")
def explain_command(
    ctx: typer.Context,
    report_id: Annotated[int, typer.Argument(help="A stored analysis (`vigie leak list`).")],
    row: Annotated[str, typer.Argument(help="The leaked row: `LINE` or `FILE:LINE`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Why a leaked row was linked to a person: each field's weight, as a waterfall.

    Starts from the prior (a person drawn at random from the registry), adds each field
    that agreed and subtracts each that disagreed (in bits), and ends on the odds of this
    person against a random one and the confidence shared with the row's other
    candidates. Needs an analysis made with `vigie leak analyze --explain`.
    """
    from vigie.errors import NotFound
    from vigie.leaks.explain import waterfall
    from vigie.leaks.explain_vault import explanation_of

    inst = instance(ctx)
    with inst.session() as session:
        try:
            explained = explanation_of(
                session, analysis_id=report_id, row=row, secrets=inst.secrets
            )
        except LookupError as exc:
            raise NotFound(str(exc)) from None
    entry = explained.entry
    steps = waterfall(entry, registry_size=explained.registry_size)
    if as_json:
        print_json(
            {
                **entry,
                "steps": [
                    {
                        "step": s.label,
                        "bits": s.bits,
                        "log2_odds": s.log2_odds,
                        "probability": s.probability,
                    }
                    for s in steps
                ],
            }
        )
        return
    table = Table(title=f"Why {entry['file']}:{entry['line']} is {entry['ref']}")
    for name in ("step", "bits", "log2 odds after", "probability after"):
        table.add_column(name)
    for s in steps:
        table.add_row(
            Text(s.label), f"{s.bits:+.1f}", f"{s.log2_odds:+.1f}", f"{s.probability:.6f}"
        )
    console.print(table)
    console.print(
        f"Confidence {entry['confidence']:.6f} once shared with the row's other candidates "
        f"(link threshold {explained.match_threshold}).",
        highlight=False,
    )


@group.command("prepare")
def prepare_command(ctx: typer.Context) -> None:
    """Build the encrypted registry snapshot triage uses, if it is missing or stale.

    Run it after `vigie synth`, an import or registry changes, so that the first
    `vigie leak analyze` of an incident does not spend minutes reading the registry.
    It keeps within `leak_memory_limit_mb`, spilling to disk past it.
    """
    from vigie.leaks.snapshot import prepare

    inst = instance(ctx)
    with (
        inst.engine.connect() as conn,
        console.status("reading the registry", spinner="dots") as status,
    ):
        people, rebuilt = prepare(
            conn,
            data_dir=inst.settings.data_dir,
            secrets=inst.secrets,
            limit_mb=inst.settings.leak_memory_limit_mb,
            progress=status.update,
        )
    state = "rebuilt" if rebuilt else "already up to date"
    console.print(f"Registry snapshot {state}: {people} people.")


@group.command("purge")
def purge_command(ctx: typer.Context) -> None:
    """Delete stored leak reports older than `leak_retention_days` (audited)."""
    from vigie.leaks.vault import purge

    inst = instance(ctx)
    with inst.session() as session:
        n = purge(session, actor=operator())
    console.print(f"Purged {n} stored leak analysis(es).")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(group, name="leak")
