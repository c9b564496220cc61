"""A disclosure report as plain, formatted values: for the page and for the letter.

The values are already formatted for the reader's language (dates by Babel, fields in
the notices' words) and isolated for right-to-left pages (``<bdi>``); the templates only
place them.
"""

from __future__ import annotations

from typing import Any

from vigie.breach import i18n
from vigie.breach.labels import FIELD_LABELS, label_ids
from vigie.public import languages, pages
from vigie.public.disclosures import DisclosureReport


def _fields(names: tuple[str, ...], lang: str) -> str:
    gettext = i18n.translations(lang).gettext
    known = [n for n in names if n in FIELD_LABELS]
    words = [gettext(label) for label in label_ids(known)]
    words += [n for n in names if n not in FIELD_LABELS]
    return i18n.LIST_SEPARATORS.get(lang, ", ").join(words)


def report_values(
    report: DisclosureReport, checkpoints: tuple[int | None, ...], lang: str, published: set[int]
) -> dict[str, Any]:
    """The report as plain, formatted values for the page and the letter templates."""
    gettext = languages.translations(lang).gettext
    lines = []
    for line, checkpoint in zip(report.lines, checkpoints, strict=True):
        events = ", ".join(f"#{s}" for s in line.seqs)
        proof = (
            gettext("events %(events)s, checkpoint %(checkpoint)s")
            % {"events": events, "checkpoint": f"#{checkpoint}"}
            if checkpoint is not None
            else gettext("events %(events)s (proof pending)") % {"events": events}
        )
        lines.append(
            {
                "day": pages.isolate(pages.long_date(line.day, lang)),
                "processor": pages.isolate(line.processor),
                "purposes": pages.ltr(", ".join(line.purposes)),
                "contracts": pages.ltr(", ".join(line.contracts)) if line.contracts else "",
                "fields": _fields(line.fields, lang),
                "in_leak": line.in_leak,
                "proof": pages.isolate(proof),
                "seqs": ",".join(str(s) for s in line.seqs),
            }
        )
    leaks = [
        {
            "id": e.incident_id,
            "incident": pages.ltr(e.incident_id),
            "fields": _fields(e.fields, lang),
            "published": e.incident_id in published,
        }
        for e in report.leaks
    ]
    return {"lines": lines, "leaks": leaks, "truncated": report.truncated}
