"""Deploying bundles to real embedded workspaces, end to end, through the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import write_files
from tests.e2e.helpers import Kiln, job_bundle, wheel_package

pytestmark = pytest.mark.e2e


@pytest.fixture
def kiln(tmp_path: Path) -> Kiln:
    return Kiln(tmp_path / "home")


def test_deploy_change_plan_deploy_destroy(kiln: Kiln, tmp_path: Path) -> None:
    root = job_bundle(tmp_path / "b", 3)
    out = kiln.run("bundle", "deploy", cwd=root).stdout
    assert "Uploading bundle files to /Workspace/Users/alice@example.com/.bundle/e2e/dev/files" in out
    assert "Created jobs.job_000" in out and "Created schemas.features" in out
    assert "Resources: 7 created, 0 changed, 0 deleted, 0 unchanged" in out
    assert "Files: 6 uploaded, 0 deleted" in out
    objects = kiln.objects("dev")
    assert len(objects) == 7
    job = next(o for o in objects if o["name"] == "[dev alice] job-001")
    assert job["settings"]["tasks"][0]["notebook_task"]["notebook_path"] == \
        "/Workspace/Users/alice@example.com/.bundle/e2e/dev/files/notebooks/nb_1"

    # a no-change plan, then one changed job
    assert kiln.run("bundle", "plan", cwd=root).stdout.strip() == \
        "Plan: 0 to add, 0 to change, 0 to delete, 7 unchanged"
    yml = root / "databricks.yml"
    yml.write_text(yml.read_text().replace("name: job-001", "name: job-one"))
    assert kiln.run("bundle", "plan", cwd=root).stdout == (
        "update jobs.job_001\n\nPlan: 0 to add, 1 to change, 0 to delete, 6 unchanged\n")
    plan = json.loads(kiln.run("bundle", "plan", "-o", "json", cwd=root).stdout)["plan"]
    assert plan["jobs.job_001"]["action"] == "update" and plan["jobs.job_001"]["id"] == job["id"]
    out = kiln.run("bundle", "deploy", cwd=root).stdout
    assert "Updated jobs.job_001" in out
    assert "Files: 1 uploaded, 0 deleted" in out  # only databricks.yml changed
    assert "Resources: 0 created, 1 changed, 0 deleted, 6 unchanged" in out
    assert any(o["name"] == "[dev alice] job-one" and o["id"] == job["id"]
               for o in kiln.objects("dev"))

    summary = json.loads(kiln.run("bundle", "summary", "-o", "json", cwd=root).stdout)
    deployed = summary["resources"]["jobs"]["job_001"]
    assert deployed["id"] == job["id"] and deployed["url"] == f"kiln://dev/jobs/{job['id']}"
    assert "modified_status" not in deployed

    out = kiln.run("bundle", "destroy", "--auto-approve", cwd=root).stdout
    assert "Destroy complete: 7 resources deleted" in out
    snap = kiln.snapshot("dev")
    assert snap["objects"] == [] and snap["state"] == [] and snap["files"] == {}


def test_dev_and_prod_land_in_separate_workspaces(kiln: Kiln, tmp_path: Path) -> None:
    root = job_bundle(tmp_path / "b", 2)
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "deploy", "-t", "prod", cwd=root)
    dev, prod = kiln.objects("dev"), kiln.objects("prod")
    assert {o["name"] for o in dev} >= {"[dev alice] job-000", "dev_alice_churn"}
    assert {o["name"] for o in prod} >= {"job-000", "churn"}
    assert not {o["bundle_ref"] for o in dev} & {o["bundle_ref"] for o in prod}
    assert any(o["id"] == "prod.features.churn" for o in prod)
    # destroying dev leaves prod alone
    kiln.run("bundle", "destroy", "--auto-approve", cwd=root)
    assert kiln.objects("dev") == [] and len(kiln.objects("prod")) == 6
    ws = kiln.run("workspace", "list", cwd=root).stdout
    assert "dev" in ws and "prod" in ws


def test_drift_shows_in_plan_and_deploy_puts_it_back(kiln: Kiln, tmp_path: Path) -> None:
    import sqlite3

    root = job_bundle(tmp_path / "b", 2)
    kiln.run("bundle", "deploy", cwd=root)
    before = {o["id"]: o for o in kiln.objects("dev")}
    con = sqlite3.connect(kiln.db("dev"))
    con.execute("UPDATE jobs SET settings='{\"name\": \"hand-edited\"}' "
                "WHERE name='[dev alice] job-000'")
    con.execute("DELETE FROM mlflow_experiments")
    con.commit()
    con.close()
    assert kiln.run("bundle", "plan", cwd=root).stdout == (
        "create experiments.exp\nupdate jobs.job_000\n\n"
        "Plan: 1 to add, 1 to change, 0 to delete, 4 unchanged\n")
    kiln.run("bundle", "deploy", cwd=root)
    after = {o["id"]: o for o in kiln.objects("dev") if o["kind"] == "jobs"}
    assert all(after[i]["settings"] == before[i]["settings"] for i in after)
    assert kiln.run("bundle", "plan", cwd=root).stdout.startswith("Plan: 0 to add")


def test_destructive_changes_need_approval(kiln: Kiln, tmp_path: Path) -> None:
    root = job_bundle(tmp_path / "b", 2)
    kiln.run("bundle", "deploy", cwd=root)
    yml = root / "databricks.yml"
    text = yml.read_text()
    start = text.index("    job_001:")
    yml.write_text(text[:start] + text[text.index("\n\ntargets:"):])
    proc = kiln.run("bundle", "deploy", cwd=root, ok=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: this deploy would delete jobs.job_001; rerun with "
                                  "--auto-approve")
    assert len(kiln.objects("dev")) == 6
    out = kiln.run("bundle", "deploy", "--auto-approve", cwd=root).stdout
    assert "Deleted jobs.job_001" in out and len(kiln.objects("dev")) == 5


@pytest.mark.parametrize("breakage,message", [
    (("./notebooks/nb_1.py", "./notebooks/missing.py"), "Error: notebook notebooks/missing.py not found"),
    (("base_parameters: {catalog: '${var.catalog}'}",
      "base_parameters: {catalog: '${resources.jobs.nope.id}'}"),
     "Error: reference does not exist: ${resources.jobs.nope.id}"),
    (("\ntargets:", "\nartifacts:\n  lib:\n    build: echo compiling && exit 3\n"
                    "    files: [{source: dist/*.whl}]\ntargets:"),
     "Error: artifact lib: build failed (exit code 3)"),
    (("            base_parameters: {catalog: '${var.catalog}'}\n",
      "            base_parameters: {catalog: '${var.catalog}'}\n"
      "          libraries: [{whl: ./dist/*.whl}]\n"),
     "Error: library dist/*.whl does not match any file in the bundle"),
])
def test_bad_input_changes_nothing(kiln: Kiln, tmp_path: Path, breakage, message) -> None:
    root = job_bundle(tmp_path / "b", 3)
    kiln.run("bundle", "deploy", cwd=root)
    before = kiln.snapshot("dev")
    (root / "notebooks" / "nb_0.py").write_text("# Databricks notebook source\nprint(2)\n")
    yml = root / "databricks.yml"
    old, new = breakage
    assert old in yml.read_text()
    yml.write_text(yml.read_text().replace(old, new, 1))
    proc = kiln.run("bundle", "deploy", cwd=root, ok=False)
    assert proc.returncode == 1
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert kiln.snapshot("dev") == before


def test_two_deploys_at_once_one_gets_the_lock(kiln: Kiln, tmp_path: Path) -> None:
    # a slow artifact build keeps the first deploy inside the lock for a while
    root = job_bundle(tmp_path / "b", 20, extra="artifacts:\n  slow:\n    build: sleep 3\n"
                                               "    files: [{source: notebooks/nb_0.py}]\n")
    first = kiln.popen("bundle", "deploy", "-t", "prod", cwd=root)
    time.sleep(1.0)
    second = kiln.run("bundle", "deploy", "-t", "prod", cwd=root, ok=False)
    out, err = first.communicate(timeout=120)
    # whichever took the lock first succeeds; the other fails with the lock message
    outcomes = sorted([(first.returncode, err), (second.returncode, second.stderr)])
    assert [code for code, _ in outcomes] == [0, 1], outcomes
    loser = outcomes[1][1]
    assert loser.startswith("Error: deploy lock acquired by alice@example.com at ")
    assert "use --force-lock to override" in loser
    assert len(kiln.objects("prod")) == 24
    assert kiln.run("bundle", "plan", "-t", "prod", cwd=root).stdout.strip() == \
        "Plan: 0 to add, 0 to change, 0 to delete, 24 unchanged"


def test_wheel_artifact_is_built_uploaded_and_referenced(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
            bundle: {name: whl}
            artifacts:
              hello: {type: whl, path: ./pkg}
            resources:
              jobs:
                run:
                  name: run
                  tasks:
                    - task_key: main
                      python_wheel_task: {package_name: hello, entry_point: hello}
                      libraries: [{whl: ./pkg/dist/*.whl}]
        """,
        **wheel_package("hello", "hello", "def main():\n    print('hello')\n", {"hello": "main"}),
    })
    out = kiln.run("bundle", "deploy", cwd=root, timeout=300).stdout
    assert "Built hello: hello-0.1.0-py3-none-any.whl" in out
    (job,) = kiln.objects("default")
    whl = job["settings"]["tasks"][0]["libraries"][0]["whl"]
    assert whl == ("/Workspace/Users/alice@example.com/.bundle/whl/default/artifacts/.internal/"
                   "hello-0.1.0-py3-none-any.whl")
    assert (kiln.home / "workspaces/default/fs" / whl.lstrip("/")).stat().st_size > 0
    assert "pkg/dist" not in json.dumps(kiln.snapshot("default")["files"])


def test_lookup_variables_resolve_in_the_targets_workspace(kiln: Kiln, tmp_path: Path) -> None:
    root = job_bundle(tmp_path / "b", 1)
    kiln.run("bundle", "deploy", cwd=root)
    other = write_files(tmp_path / "other", {"databricks.yml": """
        bundle: {name: other}
        variables:
          upstream: {lookup: {job: "[dev alice] job-000"}}
        resources:
          jobs:
            downstream:
              name: downstream
              tasks: [{task_key: t, run_job_task: {job_id: '${var.upstream}'}}]
        targets:
          dev: {mode: development}
    """})
    tree = json.loads(kiln.run("bundle", "validate", "-o", "json", cwd=other).stdout)
    upstream = next(o for o in kiln.objects("dev") if o["name"] == "[dev alice] job-000")
    assert tree["resources"]["jobs"]["downstream"]["tasks"][0]["run_job_task"]["job_id"] == \
        int(upstream["id"])
