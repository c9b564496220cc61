"""docs/audit.md lists every action tag with its docstring, and documents the commands."""

from __future__ import annotations

import ast
from pathlib import Path

import vigie.audit.actions

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def _tags() -> list[tuple[str, str]]:
    tree = ast.parse(Path(vigie.audit.actions.__file__).read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Action"]
    out = []
    for node, after in zip(cls.body, cls.body[1:], strict=False):
        if isinstance(node, ast.Assign) and isinstance(after, ast.Expr):
            value = node.value
            doc = after.value
            assert isinstance(value, ast.Constant) and isinstance(doc, ast.Constant)
            out.append((value.value, doc.value))
    return out


def test_every_action_is_listed_with_its_docstring() -> None:
    text = DOC.read_text()
    tags = _tags()
    assert len(tags) == len(vigie.audit.actions.Action)
    for tag, doc in tags:
        assert f"| `{tag}` | {doc} |" in text, f"docs/audit.md lacks `{tag}`: {doc}"


def test_commands_and_settings_are_documented() -> None:
    text = DOC.read_text()
    for needle in (
        "vigie audit verify", "vigie audit checkpoint", "vigie audit prove",
        "vigie audit export", "vigie audit key", "--consistency", "verify_trail.py",
        "--fingerprint",
        "VIGIE_AUDIT_CHECKPOINT_EVERY_EVENTS", "VIGIE_AUDIT_CHECKPOINT_EVERY_SECONDS",
    ):  # fmt: skip
        assert needle in text
