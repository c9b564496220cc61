"""Leak triage end to end: read the files, type the columns, link, attribute, report.

:func:`analyze` is the entry point for the CLI (``vigie leak analyze``), the breach
workflow and ``vigie demo``. It reads the registry and the disclosure history; it writes
nothing — :func:`vigie.leaks.vault.store_report` keeps the report (encrypted, audited).

All the work happens in an in-memory DuckDB bounded by ``leak_memory_limit_mb``
(:mod:`vigie.leaks.workspace`) whose spill directory is a private temporary directory
under the data directory (mode 0700), removed at the end with the UTF-8 working copies
of CSV files and the decrypted registry snapshot. Each phase reports its progress and
the time it has left. Nothing of the content is logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from vigie.audit.anchors import Bound
from vigie.errors import InvalidInput
from vigie.leaks.attribution import attribute
from vigie.leaks.columns import Vocabulary, infer_columns
from vigie.leaks.disclosures import DisclosureSource, ServedIndexDisclosures
from vigie.leaks.evidence import evidence_fields, field_evidence
from vigie.leaks.explain import Explanations, explain_links
from vigie.leaks.exposure import affected_people, category_totals, leak_window
from vigie.leaks.linking import decode_pseudonyms, link
from vigie.leaks.normalize import build_dump
from vigie.leaks.report import LeakReport, verdict_for
from vigie.leaks.snapshot import load_reference
from vigie.leaks.sources import Reader
from vigie.leaks.workspace import Meter, Progress, workspace
from vigie.processors.models import Processor
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

MAX_FILES = 100


def analyze(
    db: Session | Engine,
    *,
    paths: Sequence[Path],
    secrets: InstanceSecrets,
    settings: Settings,
    progress: Progress | None = None,
    disclosures: DisclosureSource | None = None,
    keep_links: bool = False,
    explain: bool = False,
) -> LeakReport:
    """Triage leaked files against the registry; return the report (nothing is stored).

    ``disclosures`` defaults to the audit served index, which must verify first (else
    :class:`vigie.errors.IntegrityError`: attribution refused, nothing analysed);
    ``keep_links`` fills ``report.links`` with every linked row (file, line, ref,
    confidence); ``explain`` fills ``report.explanations`` with why each row was linked,
    field by field (:mod:`vigie.leaks.explain`).
    """
    if not paths:
        raise InvalidInput("give at least one leaked file")
    if len(paths) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per analysis")
    step = progress or (lambda _stage: None)
    source = disclosures or ServedIndexDisclosures(
        public_key=secrets.audit_keys, bound=Bound.of(settings)
    )
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    if isinstance(db, Session):
        return _run(db, paths, secrets, settings, step, source, timings, lap, keep_links, explain)
    with Session(db) as session, session.begin():
        return _run(
            session, paths, secrets, settings, step, source, timings, lap, keep_links, explain
        )


def _run(
    session: Session,
    paths: Sequence[Path],
    secrets: InstanceSecrets,
    settings: Settings,
    step: Progress,
    source: DisclosureSource,
    timings: dict[str, float],
    lap: Callable[[str], None],
    keep_links: bool,
    explain: bool,
) -> LeakReport:
    history = source.disclosures(session)  # first: unverified evidence refuses at once
    limit = settings.leak_memory_limit_mb
    with workspace(settings.data_dir, prefix="triage-", limit_mb=limit) as (con, work):
        meter = Meter(step, con)
        reader = Reader(con, work, max_line=settings.leak_max_line_chars)
        total = sum(Path(p).stat().st_size for p in paths if Path(p).is_file())
        sources = []
        with meter.phase("reading files", lambda: reader.bytes_read / max(total, 1)):
            for path in paths:
                sources.extend(reader.read(Path(path)))
        lap("read")
        step("loading the registry")
        conn: Connection = session.connection()
        registry_size, cached = load_reference(
            con,
            conn,
            work=work,
            cache=settings.data_dir / "leak-cache",
            secrets=secrets,
            meter=meter,
            registry_state=source.registry_state(session),
        )
        lap("registry")
        with meter.phase("typing columns"):
            vocab = Vocabulary(con)
            columns = infer_columns(con, sources, vocab)
        lap("typing")
        with meter.phase("normalising"):
            present = build_dump(con, sources, columns)
        lap("normalise")
        with meter.phase("linking"):
            processor_ids = [pid for (pid,) in session.execute(select(Processor.id))]
            decode_pseudonyms(con, secrets, processor_ids)
            linked = link(
                con,
                registry_size=registry_size,
                threshold=settings.leak_match_threshold,
                term_frequency=settings.leak_term_frequency,
                date_cap=settings.leak_fuzzy_date_cap,
            )
        lap("link")
        parsed = sum(s.rows for s in sources)
        counts = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_canary) FROM links"
        ).fetchall()[0]
        matched, canary_rows = (int(counts[0]), int(counts[1])) if counts else (0, 0)
        # A field is evidence through its values, not its header (vigie.leaks.evidence).
        with meter.phase("judging each field by its values"):
            judged = field_evidence(con, present)
        lap("evidence")
        with meter.phase("attributing"):
            affected = affected_people(con, judged)
        verdict = verdict_for(matched, parsed, unsearched=linked.crowded_rows)
        hits = dict(
            con.execute(
                "SELECT processor_id, count(DISTINCT pseudonym) FROM pseudo_hits GROUP BY 1"
            ).fetchall()
        )
        all_canaries = [
            r[0]
            for r in con.execute("SELECT DISTINCT subject_id FROM reg WHERE is_canary").fetchall()
        ]
        if verdict == "fabricated":
            named, note, controller_side = [], "the file is fabricated: nobody is named", False
        else:
            result = attribute(
                linked=affected.subject_ids,
                canaries=affected.canary_ids,
                fields=evidence_fields(judged),
                pseudonym_hits={int(k): int(v) for k, v in hits.items()},
                disclosures=list(history or []),
                registry_size=registry_size,
                all_canaries=all_canaries,
            )
            named = [a.as_dict() for a in result.named]
            linked_ids = affected.subject_ids.tolist() if named else []
            for entry in named:
                # When it received them dates the theft from that side (served index).
                span = source.receipts(
                    session, processor_id=int(entry["processor_id"]), subject_ids=linked_ids
                )
                if span is not None:
                    entry["received"] = span
            note, controller_side = result.reason, result.controller_side
            if history is None:
                note = "the audit served index is not available; " + note
        window = leak_window(con)
        categories = category_totals(con)
        lap("attribute")
        by_source = {i: s for i, s in enumerate(sources)}
        links = []
        explanations = Explanations.empty()
        if explain:
            with meter.phase("explaining each link"):
                explanations = explain_links(
                    con,
                    registry_size=registry_size,
                    files=[s.name for s in sources],
                    affected=affected,
                    term_frequency=settings.leak_term_frequency,
                )
            lap("explain")
        if keep_links:
            links = [
                (by_source[int(src)].name, int(line), str(ref), float(conf))
                for src, line, ref, conf in con.execute(
                    """SELECT d.src, d.line, g.ref, l.confidence FROM links l
                       JOIN dump d USING (row_id)
                       JOIN (SELECT DISTINCT subject_id, ref FROM reg) g USING (subject_id)
                       ORDER BY d.src, d.line"""
                ).fetchall()
            ]
        return LeakReport(
            files=[
                {"name": s.name, "format": s.format, "encoding": s.encoding, "rows": s.rows}
                for s in sources
            ],
            rows=parsed + reader.rejected.count,
            rejected_rows=reader.rejected.count,
            rejected_samples=reader.rejected.samples,
            columns=[
                {
                    "file": by_source[c.source].name,
                    "header": c.header,
                    "kind": c.kind,
                    "via": c.via,
                    "share": c.share,
                    "filled": c.filled,
                    "evidence": judged[c.kind].note() if c.kind in judged else None,
                }
                for c in columns
            ],
            field_evidence={kind: v.as_dict() for kind, v in judged.items()},
            matched_rows=matched,
            canary_rows=canary_rows,
            affected=affected,
            verdict=verdict,
            attribution=named,
            attribution_note=note,
            controller_side=controller_side,
            leak_window=window,
            categories=categories,
            match_threshold=settings.leak_match_threshold,
            registry_size=registry_size,
            timings=timings,
            links=links,
            explanations=explanations,
            registry_from_snapshot=cached,
            crowded_rows=linked.crowded_rows,
            date_cap=settings.leak_fuzzy_date_cap,
        )
