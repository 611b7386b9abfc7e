"""run_as: exactly one identity; resources that cannot run as another identity; jobs and
pipelines take the bundle's identity unless they name their own (the Databricks CLI's
rules and words)."""

from __future__ import annotations

import pytest

from tests.conftest import errors, load, summaries, warnings

JOBS = """
resources:
  jobs:
    a: {name: a}
    b: {name: b, run_as: {user_name: bob@example.com}}
  pipelines:
    p: {name: p}
"""


@pytest.mark.parametrize("run_as", ["{}", "{user_name: ''}", "{service_principal_name: ''}"])
def test_no_identity_is_an_error(bundle_dir, run_as: str) -> None:
    r = load(bundle_dir({"databricks.yml": f"bundle: {{name: x}}\nrun_as: {run_as}\n"}))
    assert summaries(errors(r)) == [
        "run_as section must specify exactly one identity. Neither service_principal_name "
        "nor user_name is specified"]


def test_an_empty_run_as_is_not_set(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nrun_as:\n" + JOBS}))
    assert r.ok and "run_as" not in r.plain()["resources"]["jobs"]["a"]


def test_both_identities_is_an_error(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nrun_as: "
                                           "{user_name: u@example.com, service_principal_name: sp}\n"}))
    assert summaries(errors(r)) == [
        "run_as section cannot specify both user_name and service_principal_name"]


def test_jobs_and_pipelines_take_the_bundles_identity(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nrun_as: {service_principal_name: sp}\n"
                                           + JOBS}))
    assert r.ok, r.diagnostics
    res = r.plain()["resources"]
    assert res["jobs"]["a"]["run_as"] == {"service_principal_name": "sp"}
    assert res["jobs"]["b"]["run_as"] == {"user_name": "bob@example.com"}  # its own wins
    assert res["pipelines"]["p"]["run_as"] == {"service_principal_name": "sp"}


@pytest.mark.parametrize("rtype, body, what", [
    ("model_serving_endpoints", "e: {name: e}", "model_serving_endpoints"),
    ("quality_monitors", "m: {table_name: a.b.c, assets_dir: /x, output_schema_name: a.b}",
     "quality_monitors"),
    ("dashboards", "d: {display_name: d, warehouse_id: w, embed_credentials: true}",
     "dashboards with embed_credentials set to true")])
def test_resources_that_cannot_run_as_another_identity(bundle_dir, rtype: str, body: str,
                                                       what: str) -> None:
    yml = f"bundle: {{name: x}}\nrun_as: {{service_principal_name: sp}}\nresources:\n  {rtype}:\n    {body}\n"
    (err,) = errors(load(bundle_dir({"databricks.yml": yml})))
    assert err.summary.startswith(f"{what} do not support a setting a run_as user that is "
                                  "different from the owner.\nCurrent identity: alice@example.com. "
                                  "Run as identity: sp.")
    # the deploying user may name itself
    mine = yml.replace("service_principal_name: sp", "user_name: alice@example.com")
    assert not errors(load(bundle_dir({"databricks.yml": mine})))


def test_legacy_run_as_warns_and_sets_jobs_only(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nrun_as: {user_name: u@example.com}\n"
                                           "experimental: {use_legacy_run_as: true}\n" + JOBS}))
    assert summaries(warnings(r))[0].startswith("You are using the legacy mode of run_as.")
    res = r.plain()["resources"]
    assert res["jobs"]["a"]["run_as"] == {"user_name": "u@example.com"}
    assert "run_as" not in res["pipelines"]["p"]
