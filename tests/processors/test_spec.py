"""The processors file is validated with the path and line of every problem."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vigie.errors import InvalidInput
from vigie.processors.spec import SpecRejected, load_spec, luhn_ok, parse_spec, read_yaml

PROVIDERS = Path(__file__).resolve().parents[2] / "src" / "vigie" / "synth" / "providers.yaml"

GOOD = """\
processors:
  - name: lingua-test
    legal_name: "Lingua Test SAS"
    siren: "732100003"
    contact_email: dpo@lingua.example
    security_officer: "Claire Martin"
    contracts:
      - name: language
        purpose: language-training
        legal_basis: "GDPR Art. 6(1)(e)"
        reference: "OFII-TEST-1"
        valid_from: 2024-01-01
        read_fields: [pseudonym, given_name, birth_date]
        masks: {birth_date: year}
        write_fields: [attendance_hours]
        budget: {per_day: 50, per_30_days: 500}
        rate_per_minute: 60
"""


def test_the_shipped_providers_file_is_valid() -> None:
    spec = load_spec(PROVIDERS)
    assert spec.processors and all(p.contracts for p in spec.processors)
    names = [p.name for p in spec.processors]
    assert len(names) == len(set(names))


def test_good_file() -> None:
    spec = parse_spec(GOOD)
    contract = spec.processors[0].contracts[0]
    assert contract.canonical_read_fields == ["pseudonym", "given_name", "birth_date"]


def _edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "path", "reason", "line"),
    [
        (_edit("birth_date: year", "birth_date: yeer"),
         "processors[0].contracts[0].masks.birth_date", "unknown mask 'yeer'", 14),
        (_edit("birth_date: year", "given_name: year"),
         "processors[0].contracts[0].masks.given_name", "does not apply", 14),
        (_edit("{birth_date: year}", "{email: domain}"),
         "processors[0].contracts[0].masks.email", "not in read_fields", 14),
        (_edit("given_name, birth", "salary, birth"),
         "processors[0].contracts[0].read_fields[1]", "unknown field 'salary'", 13),
        (_edit("[attendance_hours]", "[grade]"),
         "processors[0].contracts[0].write_fields[0]", "unknown field 'grade'", 15),
        (_edit('"732100003"', '"732100004"'), "processors[0].siren", "Luhn", 4),
        (_edit('"732100003"', "732100003"), "processors[0].siren", "put it in quotes", 4),
        (_edit('"732100003"', '"73210"'), "processors[0].siren", "pattern", 4),
        (_edit("lingua-test", "Lingua Test"), "processors[0].name", "pattern", 2),
        (_edit("dpo@lingua.example", "not-an-email"), "processors[0].contact_email", "pattern", 5),
        (_edit("per_30_days: 500", "per_30_days: 5"),
         "processors[0].contracts[0].budget.per_30_days", "smaller than per_day", 16),
        (_edit("per_day: 50", "per_day: 5000000000"),
         "processors[0].contracts[0].budget.per_day", "less than or equal", 16),
        (_edit("{birth_date: year}", "{1: year}"),
         "processors[0].contracts[0].masks[1]", "valid string", 14),
        (_edit('"Lingua Test SAS"', '"Lingua\\0Test"'), "processors[0].legal_name",
         "control characters", 3),
        (_edit("dpo@lingua.example", '"dpo@lin\\x01gua.example"'), "processors[0].contact_email",
         "control characters", 5),
        (_edit("per_day: 50", "per_day: 0"),
         "processors[0].contracts[0].budget.per_day", "greater than 0", 16),
        (_edit("valid_from: 2024-01-01", "valid_from: 2024-01-01\n        valid_to: 2023-01-01"),
         "processors[0].contracts[0].valid_to", "ends before", 13),
        (_edit("valid_from: 2024-01-01", "valid_from: 2024-13-01"),
         "processors[0].contracts[0].valid_from", "date", 12),
        (_edit("rate_per_minute: 60", "rate_per_minute: 60\n        colour: blue"),
         "processors[0].contracts[0].colour", "Extra inputs", 18),
        (_edit("        rate_per_minute: 60\n", ""),
         "processors[0].contracts[0].rate_per_minute", "Field required", 8),
        (GOOD + GOOD.split("\n", 1)[1], "processors[1].name", "listed twice", 18),
        (_edit("    contracts:", "    name: again\n    contracts:"), "processors[0].name",
         "duplicate key", 7),
        (_edit("    contracts:", "    statement_key: ABC\n    contracts:"),
         "processors[0].statement_key", "pattern", 7),
        ("processors: [\n", "", "not valid YAML", 2),
        ("- just a list\n", "", "mapping", 1),
        ("processors: 3\n", "processors", "valid list", 1),
    ],
)  # fmt: skip
def test_problems_name_their_place(text: str, path: str, reason: str, line: int) -> None:
    with pytest.raises(SpecRejected) as info:
        parse_spec(text, source="p.yaml")
    problems = info.value.problems
    assert any(p == path and reason in r and ln == line for p, r, ln in problems), problems
    assert str(info.value).startswith("p.yaml: ") and "nothing applied" in str(info.value)


def test_every_problem_is_reported() -> None:
    text = _edit("birth_date: year", "birth_date: yeer").replace("attendance_hours", "grade")
    with pytest.raises(SpecRejected) as info:
        parse_spec(text)
    assert len(info.value.problems) == 2
    assert "and 1 more" in str(info.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InvalidInput, match="UTF-8"):
        load_spec(binary)


def test_yaml_tags_are_not_executed() -> None:
    with pytest.raises(SpecRejected):
        parse_spec("processors: !!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize(("siren", "ok"), [("732100003", True), ("732100004", False),
                                           ("000000000", True)])  # fmt: skip
def test_luhn(siren: str, ok: bool) -> None:
    assert luhn_ok(siren) is ok


def test_the_providers_file_round_trips_through_yaml() -> None:
    data = yaml.safe_load(PROVIDERS.read_text())
    assert set(data) == {"processors"}


def test_the_parser_reads_what_pyyamls_own_safe_loader_reads() -> None:
    """read_yaml parses with libyaml where PyYAML has it: same data as the pure-Python
    loader, and each path's line."""
    text = PROVIDERS.read_text()
    data, lines = read_yaml(text, source="providers.yaml")
    assert data == yaml.load(text, Loader=yaml.SafeLoader)
    first = data["processors"][0]["name"]
    assert text.splitlines()[lines["processors[0].name"] - 1].strip() == f"- name: {first}"


def test_the_example_in_the_docs_is_valid() -> None:
    doc = (PROVIDERS.parents[3] / "docs" / "processors.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = parse_spec(example, source="docs/processors.md")
    assert spec.processors[0].contracts[0].masks == {"birth_date": "year"}


def test_empty_keys_mean_none() -> None:
    text = GOOD.replace("masks: {birth_date: year}", "masks:").replace(
        "write_fields: [attendance_hours]", "write_fields:"
    )
    contract = parse_spec(text).processors[0].contracts[0]
    assert contract.masks == {} and contract.write_fields == []
    bare = GOOD.split("    contracts:")[0] + "    contracts:\n"
    assert parse_spec(bare).processors[0].contracts == []


def test_aliases_are_refused() -> None:
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nprocessors: [*c]\n'
    with pytest.raises(SpecRejected, match="anchors and aliases"):
        parse_spec(bomb)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(SpecRejected, match="nested deeper"):
        parse_spec("processors: " + "[" * 5000 + "]" * 5000 + "\n")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_accepted_or_refused_cleanly(text: str) -> None:
    with contextlib.suppress(SpecRejected):
        parse_spec(text)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.dates(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(yaml_values, st.sampled_from(["processors", "name", "masks", "budget", "read_fields"]))
def test_any_structure_is_accepted_or_refused_cleanly(value: object, where: str) -> None:
    doc = yaml.safe_load(GOOD)
    processor = doc["processors"][0]
    if where == "processors":
        doc["processors"] = value
    elif where == "name":
        processor["name"] = value
    else:
        processor["contracts"][0][where] = value
    try:
        parse_spec(yaml.safe_dump(doc, allow_unicode=True))
    except SpecRejected as exc:
        assert exc.problems
