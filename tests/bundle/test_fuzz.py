"""Property tests: whatever YAML a user writes, kiln answers with located diagnostics.

Random documents built from bundle-shaped keys, and mutations of a real bundle's text,
go through the whole pipeline and through the CLI's error boundary. kiln must never
raise, never print a traceback or an "internal error", and every error it reports must
point at a place in a file.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.bundle import LoadContext, load_bundle
from kiln.cli.main import cli
from kiln.diag import Severity

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "churn"
EXAMPLE = (EXAMPLE_DIR / "databricks.yml").read_text()

KEYS = ["bundle", "name", "resources", "jobs", "tasks", "task_key", "notebook_task",
        "notebook_path", "depends_on", "targets", "dev", "prod", "default", "mode",
        "variables", "catalog", "include", "workspace", "root_path", "max_concurrent_runs",
        "schedule", "pause_status", "run_if", "presets", "name_prefix", "type", "lookup",
        "registered_models", "grants", "principal", "job_clusters", "new_cluster", "x"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False, width=16),
    st.sampled_from(["${var.catalog}", "${bundle.name}", "${var.nope}", "${resources.jobs.a.id}",
                     "${var.catalog.a[0]}", "development", "production", "PAUSED", "ALL_SUCCESS",
                     "nb.py", "../x", "~/p", "complex", "*.yml", "", "${", "}"]),
    st.text(max_size=8),
)
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=30,
)

MUTATION_ALPHABET = ":-[]{}&*!|>'\"#%@`,? \n\t${}<"


@st.composite
def mutated_example(draw) -> str:
    text = EXAMPLE
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "duplicate_line", "swap"]))
        if kind == "insert":
            text = text[:i] + draw(st.text(MUTATION_ALPHABET, min_size=1, max_size=3)) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 12)):]
        else:
            lines = text.splitlines(keepends=True)
            j = draw(st.integers(0, len(lines) - 1))
            k = draw(st.integers(0, len(lines) - 1))
            if kind == "duplicate_line":
                lines.insert(k, lines[j])
            else:
                lines[j], lines[k] = lines[k], lines[j]
            text = "".join(lines)
    return text


def check(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        shutil.copytree(EXAMPLE_DIR, d, dirs_exist_ok=True)  # the files the bundle points at
        Path(d, "databricks.yml").write_text(text)
        Path(d, "nb.py").write_text("# Databricks notebook source\n")
        for target in (None, "dev"):
            r = load_bundle(d, LoadContext(target=target, default_user="fuzz@example.com"))
            for diag in r.diagnostics:
                if diag.severity is Severity.ERROR:
                    assert diag.locations, f"error without a location: {diag.summary}"
                    assert all(loc.line >= 1 and loc.file for loc in diag.locations), diag
            if r.ok:
                r.plain()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS)
def test_random_documents(doc: object) -> None:
    check(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_example())
def test_mutated_real_bundle(text: str) -> None:
    check(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_example(), DOCS.map(lambda d: yaml.safe_dump(d))))
def test_cli_never_shows_a_traceback(text: str) -> None:
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as d:
        Path(d, "databricks.yml").write_text(text)
        for args in (["bundle", "validate"], ["bundle", "validate", "-o", "json"],
                     ["bundle", "summary", "-t", "dev"]):
            res = runner.invoke(cli, args, env={"KILN_HOME": d, "KILN_USER": "f@x.io",
                                                "DATABRICKS_BUNDLE_ROOT": d})
            out = res.output + (res.stderr if res.stderr_bytes is not None else "")
            assert res.exit_code in (0, 1), (res.exit_code, out, res.exception)
            assert "Traceback" not in out and "internal error" not in out, out
            assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
