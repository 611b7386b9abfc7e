"""Rule 4: normalization against the schema before merging."""

from __future__ import annotations

import pytest

from kiln.bundle.dyn import load_yaml_text, to_plain
from kiln.bundle.normalize import normalize
from kiln.bundle.typetree import bundle_type
from kiln.diag import Location, Severity


def norm(text: str):
    value, diags = load_yaml_text(text, "databricks.yml")
    assert not diags
    out, diags = normalize(value, bundle_type())
    return to_plain(out), diags


def test_unknown_field_is_a_warning_at_the_key_and_dropped() -> None:
    out, diags = norm("bundle:\n  name: x\n  nmae: y\n")
    assert out == {"bundle": {"name": "x"}}
    (d,) = diags
    assert (d.severity, d.summary) == (Severity.WARNING, "unknown field: nmae")
    assert d.paths == (("bundle",),)
    assert d.locations == (Location("databricks.yml", 3, 3),)


def test_kind_mismatch_is_a_warning_and_dropped() -> None:
    out, diags = norm("bundle: {name: x}\nresources:\n  jobs: not-a-map\n")
    assert out == {"bundle": {"name": "x"}, "resources": {}}
    (d,) = diags
    assert (d.severity, d.summary) == (Severity.WARNING, "expected map, found string")
    assert d.paths == (("resources", "jobs"),)


def test_sequence_expected() -> None:
    _, diags = norm("resources: {jobs: {j: {tasks: {task_key: a}}}}")
    assert [d.summary for d in diags] == ["expected sequence, found map"]


@pytest.mark.parametrize("text,expected", [
    ('max_concurrent_runs: "4"', 4),
    ("max_concurrent_runs: 4.0", 4),
    ("timeout_seconds: '0x10'", 16),
])
def test_strings_convert_to_ints(text: str, expected: int) -> None:
    out, diags = norm(f"resources: {{jobs: {{j: {{{text}}}}}}}")
    assert not diags
    assert list(out["resources"]["jobs"]["j"].values()) == [expected]


@pytest.mark.parametrize("raw,expected", [('"true"', True), ('"false"', False), ("yes", True),
                                          ("off", False)])
def test_strings_convert_to_bools(raw: str, expected: bool) -> None:
    out, diags = norm(f"resources: {{jobs: {{j: {{queue: {{enabled: {raw}}}}}}}}}")
    assert not diags
    assert out["resources"]["jobs"]["j"]["queue"]["enabled"] is expected


def test_scalars_convert_to_strings() -> None:
    out, diags = norm("resources: {jobs: {j: {name: 123, description: true, tags: {v: 1.0}}}}")
    assert not diags
    assert out["resources"]["jobs"]["j"] == {"name": "123", "description": "true", "tags": {"v": "1"}}


@pytest.mark.parametrize("text,summary", [
    ('max_concurrent_runs: "four"', 'cannot parse "four" as an integer'),
    ("max_concurrent_runs: 2.5", "cannot accurately represent 2.5 as integer"),
    ('queue: {enabled: "maybe"}', 'cannot parse "maybe" as a boolean'),
])
def test_unconvertible_strings_are_errors(text: str, summary: str) -> None:
    _, diags = norm(f"resources: {{jobs: {{j: {{{text}}}}}}}")
    assert [(d.severity, d.summary) for d in diags] == [(Severity.ERROR, summary)]


def test_whole_references_are_kept_for_any_type() -> None:
    out, diags = norm("resources: {jobs: {j: {max_concurrent_runs: '${var.n}', "
                      "job_clusters: '${var.clusters}', queue: {enabled: '${var.q}'}}}}")
    assert not diags
    assert out["resources"]["jobs"]["j"]["max_concurrent_runs"] == "${var.n}"


def test_nulls_are_kept() -> None:
    out, diags = norm("targets:\n  dev:\n")
    assert out == {"targets": {"dev": None}} and not diags


def test_fields_after_a_dropped_or_converted_one_are_kept() -> None:
    out, diags = norm("resources: {jobs: {j: {bogus: 1, max_concurrent_runs: '2', name: n, "
                      "description: d, timeout_seconds: 5}}}")
    assert out["resources"]["jobs"]["j"] == {"max_concurrent_runs": 2, "name": "n",
                                             "description": "d", "timeout_seconds": 5}
    assert [d.summary for d in diags] == ["unknown field: bogus"]
