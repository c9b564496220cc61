"""The authority pack as Markdown (ready to copy into the CNIL form) and as HTML for PDF."""

from __future__ import annotations

from typing import Any

from markupsafe import escape

SECTIONS: tuple[tuple[str, str], ...] = (
    ("1. Controller and contact point (DPO)", "controller"),
    ("2. Nature of the breach", "breach"),
    ("3. Processor involved (Art. 28; its own duty under Art. 33(2))", "processor"),
    ("4. People concerned: categories and approximate number", "people"),
    ("5. Personal data records concerned: categories and approximate number", "records"),
    ("6. Likely consequences", "likely_consequences"),
    ("7. Measures taken", "measures_taken"),
    ("8. Measures proposed", "measures_proposed"),
    ("9. Communication to the people concerned (Art. 34)", "communication_to_people"),
    ("10. Reasons for any delay past 72 hours (Art. 33(1))", "delay"),
    ("11. Evidence", "evidence"),
    ("12. Phase of the notification and changes since the previous one (Art. 33(4))", "phase"),
    ("13. Audit trail signing key (to check exports of the trail independently)", "audit_trail"),
)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _md(value: Any, depth: int = 0) -> list[str]:
    pad = "  " * depth
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}- **{_label(str(k))}**:")
                lines.extend(_md(v, depth + 1))
            else:
                lines.append(f"{pad}- **{_label(str(k))}**: {_scalar(v)}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict):
                text = "; ".join(f"{_label(k)}: {_scalar(v)}" for k, v in item.items())
                lines.append(f"{pad}- {text}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return lines or [f"{pad}- none"]
    return [f"{pad}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return "none" if not value else str(value)
    return str(value)


def render_markdown(content: dict[str, Any]) -> str:
    """The pack as Markdown, section by section in the order of the CNIL form."""
    phase = content.get("phase", {})
    out = [
        f"# Personal data breach notification — incident {content['breach']['incident_id']}, "
        f"phase {phase.get('number', 1)} ({phase.get('kind', 'initial')})",
        "",
        f"Prepared {phase.get('prepared_at', '')}; notification due "
        f"{content['breach']['notification_due']} ({content['breach']['time_left']}).",
    ]
    for title, key in SECTIONS:
        out += ["", f"## {title}", ""]
        out += _md(content.get(key))
    return "\n".join(out) + "\n"


def _html(value: Any) -> str:
    if isinstance(value, dict):
        items = "".join(
            f"<li><b>{escape(_label(str(k)))}</b>: {_html(v)}</li>" for k, v in value.items()
        )
        return f"<ul>{items}</ul>"
    if isinstance(value, list):
        if not value:
            return "none"
        return "<ul>" + "".join(f"<li>{_html(v)}</li>" for v in value) + "</ul>"
    return str(escape(_scalar(value)))


def render_html(content: dict[str, Any]) -> str:
    """The pack as a printable HTML page (for the PDF)."""
    phase = content.get("phase", {})
    body = "".join(f"<h2>{escape(title)}</h2>{_html(content.get(key))}" for title, key in SECTIONS)
    title = (
        f"Personal data breach notification — incident {content['breach']['incident_id']}, "
        f"phase {phase.get('number', 1)}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>"
        "@page { size: A4; margin: 1.8cm; } body { font-family: 'DejaVu Sans', sans-serif; "
        "font-size: 9.5pt; line-height: 1.35; } h1 { font-size: 14pt; } "
        "h2 { font-size: 11pt; margin-top: 1.1em; border-bottom: 1px solid #999; } "
        "ul { margin: 0.2em 0; padding-left: 1.2em; }"
        f"</style></head><body><h1>{escape(title)}</h1>"
        f"<p>Notification due {escape(content['breach']['notification_due'])} "
        f"({escape(content['breach']['time_left'])}).</p>{body}</body></html>"
    )
