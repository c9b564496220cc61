"""The dossier as a printable HTML page (for the PDF), with its volume chart in SVG.

Every value is escaped; the chart is built here from numbers only.
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape


def volume_chart(volume: dict[str, Any], *, width: int = 640, height: int = 200) -> str:
    """Bars of distinct people per day, with the declared normal volume and the budget as
    lines (SVG)."""
    days = volume["by_day"][-60:]
    if not days:
        return "<p>No disclosure recorded.</p>"
    normal = int(volume.get("declared_normal_per_day") or 0)
    budget = int(volume.get("budget_per_day") or 0)
    top = max([int(d["people"]) for d in days] + [normal, budget, 1])
    step = width / len(days)

    def y(value: float) -> float:
        return height - (value / top) * (height - 10)

    bars = "".join(
        f'<rect x="{i * step + 1:.1f}" y="{y(d["people"]):.1f}" width="{max(step - 2, 1):.1f}" '
        f'height="{height - y(d["people"]):.1f}" fill="#4a6fa5"/>'
        for i, d in enumerate(days)
    )
    lines = ""
    for value, colour, label in ((normal, "#2e7d32", "normal"), (budget, "#c62828", "budget")):
        if value:
            lines += (
                f'<line x1="0" x2="{width}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                f'stroke="{colour}" stroke-dasharray="4 3"/>'
                f'<text x="{width - 4}" y="{y(value) - 3:.1f}" font-size="9" '
                f'text-anchor="end" fill="{colour}">{label} {value}/day</text>'
            )
    first, last = escape(days[0]["day"]), escape(days[-1]["day"])
    return (  # numbers and escaped dates only
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 14}" '
        f'viewBox="0 0 {width} {height + 14}">{bars}{lines}'
        f'<text x="0" y="{height + 12}" font-size="9">{first}</text>'
        f'<text x="{width}" y="{height + 12}" font-size="9" text-anchor="end">{last}</text></svg>'
    )


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        items = "".join(f"<li><b>{escape(k)}</b>: {_value(v)}</li>" for k, v in value.items())
        return f"<ul>{items}</ul>"
    if isinstance(value, list):
        if not value:
            return "none"
        return "<ul>" + "".join(f"<li>{_value(v)}</li>" for v in value) + "</ul>"
    return str(escape(str(value)))


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_value(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(content: dict[str, Any], *, notice_html: str) -> str:
    """The whole dossier as one HTML page."""
    p, incident = content["processor"], content["incident"]
    title = f"Sanction dossier — {p['legal_name']} — incident {incident['id']}"
    sections = [
        ("1. Processor", _value(p)),
        ("2. Contracts in force", _table(content["contracts"], (
            "name", "reference", "purpose", "valid_from", "valid_to", "budget_per_day",
            "expected_per_day"))),
        ("3. Requirements in force at the incident, and the processor's standing",
         _table(content["requirements"], (
             "id", "version", "kind", "text_en", "deadline", "consequence", "state_at_incident",
             "phase_at_incident", "reasons", "audit_seq"))),
        ("4. Keys and where they were used from",
         _table(content["keys"], ("id", "created_at", "expires_at", "allowed_cidrs",
                                  "revoked_at", "suspended_at", "last_used_at"))
         + _table(content["used_from"], ("network", "first_at", "last_at"))),
        ("5. Access volume against the declared normal volume and the budget",
         volume_chart(content["volume"])
         + _value({k: v for k, v in content["volume"].items() if k != "by_day"})),
        ("6. Alerts", _table(content["alerts"], (
            "id", "raised_at", "detector", "severity", "summary", "containment", "audit_seq"))),
        ("7. Attribution of the leak", _value(content["attribution"])),
        ("8. Timeline", _table(content["timeline"], ("at", "kind", "summary", "audit_seq"))),
        ("9. The processor's own duty (Art. 33(2))", _value(content["processor_duty"])),
        ("10. Draft formal notice", notice_html),
        ("11. Audit events cited (each with its inclusion proof in proofs/)",
         escape(", ".join(str(s) for s in content["cited"]))),
    ]  # fmt: skip
    body = "".join(f"<h2>{escape(t)}</h2>{html}" for t, html in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>"
        "@page { size: A4; margin: 1.6cm; } body { font-family: 'DejaVu Sans', sans-serif; "
        "font-size: 8.5pt; line-height: 1.3; } h1 { font-size: 14pt; } "
        "h2 { font-size: 11pt; margin-top: 1em; border-bottom: 1px solid #999; } "
        "table { border-collapse: collapse; width: 100%; } "
        "td, th { border: 1px solid #bbb; padding: 2px 4px; vertical-align: top; } "
        "ul { margin: 0; padding-left: 1.1em; }"
        f"</style></head><body><h1>{escape(title)}</h1>"
        f"<p>Built {escape(content['built_at'])}. Verify offline: "
        "<code>python verify_trail.py --dossier DIR --fingerprint HEX</code>.</p>"
        f"{body}</body></html>"
    )
