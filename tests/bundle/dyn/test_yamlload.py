"""Rule 2: YAML 1.2 core scalars, anchors, aliases, merge keys; every value located."""

from __future__ import annotations

import math

import pytest

from kiln.bundle.dyn import load_yaml_text, to_plain
from kiln.diag import Location


def parse(text: str):
    value, diags = load_yaml_text(text, "f.yml")
    assert not diags, diags
    return value


@pytest.mark.parametrize("text,expected", [
    ("true", True), ("True", True), ("FALSE", False),
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("Y", "Y"),
    ("~", None), ("null", None), ("", None),
    ("12", 12), ("-3", -3), ("+7", 7), ("0o17", 15), ("0x1F", 31),
    ("1.5", 1.5), ("1e3", 1000.0), ("-.5", -0.5),
    ("012", 12),  # YAML 1.2: a leading zero is still decimal, not octal
    ("1_000", "1_000"),  # YAML 1.1 digit separators are not numbers in 1.2
    ("0b101", "0b101"),
    ("12:30", "12:30"),  # no sexagesimal numbers in 1.2
    ("2024-01-01", "2024-01-01"),  # dates stay strings
    ("'true'", "true"), ('"12"', "12"),
])
def test_core_schema_scalars(text: str, expected: object) -> None:
    assert to_plain(parse(f"k: {text}"))["k"] == expected


def test_special_floats() -> None:
    v = to_plain(parse("a: .inf\nb: -.INF\nc: .nan"))
    assert v["a"] == math.inf and v["b"] == -math.inf and math.isnan(v["c"])


def test_explicit_tags() -> None:
    v = to_plain(parse("a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!bool true\ne: !custom x"))
    assert v == {"a": "12", "b": 7, "c": 1.0, "d": True, "e": "x"}


def test_block_scalars_keep_text() -> None:
    v = to_plain(parse("a: |\n  line1\n  line2\nb: >\n  folded\n  text\n"))
    assert v == {"a": "line1\nline2\n", "b": "folded text\n"}


def test_anchor_alias_and_merge_keys() -> None:
    v = to_plain(parse("""
base: &base {spark_version: "15.4", num_workers: 2}
extra: &extra {node_type_id: i3, num_workers: 9}
one:
  <<: *base
  num_workers: 4
two:
  <<: [*base, *extra]
copy: *base
"""))
    assert v["one"] == {"spark_version": "15.4", "num_workers": 4}  # explicit key wins
    # earlier merge sources win over later ones
    assert v["two"] == {"spark_version": "15.4", "num_workers": 2, "node_type_id": "i3"}
    assert v["copy"] == v["base"]


def test_quoted_merge_key_is_an_ordinary_key() -> None:
    assert to_plain(parse('"<<": x')) == {"<<": "x"}


def test_every_value_and_key_has_its_location() -> None:
    v = parse("bundle:\n  name: demo\nitems:\n  - a\n  - {b: 2}\n")
    name = v.v["bundle"].v["name"]
    assert name.loc == Location("f.yml", 2, 9)
    assert name.kloc == Location("f.yml", 2, 3)
    assert v.v["items"].v[1].v["b"].loc == Location("f.yml", 5, 9)


def test_alias_entries_get_their_own_key_location() -> None:
    v = parse("a: &x {p: 1}\nb: *x\n")
    assert v.v["a"].kloc == Location("f.yml", 1, 1)
    assert v.v["b"].kloc == Location("f.yml", 2, 1)


@pytest.mark.parametrize("text,summary,line", [
    ("a: [1, 2\n", "yaml: line 2: did not find expected ',' or ']'", 2),
    ("a: *missing\n", "unknown anchor 'missing' referenced", 1),
    ("? [x]\n: 1\n", "map keys must be scalars", 1),
    ("a: 1\n---\nb: 2\n", "expected a single document in the file", 2),
    ("a: !!int nope\n", "invalid tag:yaml.org,2002:int value: 'nope'", 1),
    ("a:\n\tb: 1\n", "yaml: line 2: found character that cannot start any token", 2),
])
def test_errors_are_located_diagnostics(text: str, summary: str, line: int) -> None:
    _, diags = load_yaml_text(text, "f.yml")
    assert [d.summary for d in diags] == [summary]
    assert diags[0].locations[0].file == "f.yml"
    assert diags[0].locations[0].line == line


def test_a_key_written_twice_takes_the_last_value_as_the_cli_does() -> None:
    value, diags = load_yaml_text("a: 1\nb: 0\na: 2\n", "f.yml")
    assert not diags and list(value.v) == ["a", "b"] and value.v["a"].v == 2


def test_empty_document() -> None:
    value, diags = load_yaml_text("# only a comment\n", "f.yml")
    assert value is None and diags == []
