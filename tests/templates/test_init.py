"""``kiln bundle init``: templates listed, parameters from a file or a terminal, bad input
refused with nothing written, and every variant of the generated bundle valid."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import kiln_exe, load, run_on_terminal

TARGETS = ("dev", "test", "staging", "prod")


def init(tmp_path: Path, params: dict | None = None, *args: str,
         ok: bool = True) -> subprocess.CompletedProcess[str]:
    extra = []
    if params is not None:
        (tmp_path / "params.json").write_text(json.dumps(params))
        extra = ["--config-file", str(tmp_path / "params.json")]
    proc = subprocess.run([kiln_exe(), "bundle", "init", *args, "--output-dir",
                           str(tmp_path / "out"), *extra], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_list_shows_the_templates(tmp_path: Path) -> None:
    out = subprocess.run([kiln_exe(), "bundle", "init", "--list"], capture_output=True,
                         text=True, check=True).stdout
    assert out.startswith("mlops-stack: An ML project in the MLOps Stacks shape")


def test_config_file_generates_a_github_project(tmp_path: Path) -> None:
    init(tmp_path, {"project_name": "fraud_ml", "catalog_prod": "main"}, "mlops-stack")
    root = tmp_path / "out" / "fraud_ml"
    got = files(root)
    assert {"databricks.yml", "README.md", "requirements.txt", "fraud_ml/features.py",
            "notebooks/Train.py", "resources/model-workflow-resource.yml",
            "resources/serving-resource.yml", "resources/monitoring-resource.yml",
            ".github/workflows/fraud_ml-pull-request.yml",
            ".github/workflows/fraud_ml-release.yml", "tests/test_training.py"} <= got
    assert "azure-pipelines.yml" not in got
    assert not any("feature" in f and "engineering" in f for f in got)
    for f in got:  # every placeholder was rendered
        text = (root / f).read_text()
        assert "[[" not in text and "[%" not in text, f
    yml = (root / "databricks.yml").read_text()
    assert "catalog_name: main" in yml and "name: fraud_ml" in yml
    # the project's own dependencies: nothing that pins this machine's kiln checkout
    reqs = [ln for ln in (root / "requirements.txt").read_text().splitlines()
            if ln and not ln.startswith("#")]
    assert reqs and not any(ln.startswith("kiln") or "file:" in ln for ln in reqs)
    pr = (root / ".github/workflows/fraud_ml-pull-request.yml").read_text()
    assert "KILN_PIP_SPEC: ${{ vars.KILN_PIP_SPEC }}" in pr and '"${KILN_PIP_SPEC:?' in pr
    readme = (root / "README.md").read_text()
    assert "feature_engineering_job" not in readme.split("## What is where")[0]
    assert "event_time" in readme and 'MODEL=$(kiln bundle summary -o json' in readme
    for target in TARGETS:
        r = load(root, target)
        assert r.ok, (target, [d.summary for d in r.diagnostics])


def test_azure_devops_with_feature_tables(tmp_path: Path) -> None:
    init(tmp_path, {"ci_platform": "azure_devops", "include_feature_store": "yes"})
    root = tmp_path / "out" / "churn_mlops"
    got = files(root)
    assert "azure-pipelines.yml" in got and not any(f.startswith(".github") for f in got)
    assert {"resources/feature-engineering-resource.yml",
            "notebooks/ComputeFeatures.py"} <= got
    quick = (root / "README.md").read_text().split("## What is where")[0]
    steps = [ln.split("#")[0].strip() for ln in quick.splitlines() if ln.startswith("kiln ")]
    assert steps.index("kiln bundle run feature_engineering_job") < \
        steps.index("kiln bundle run model_training_job")  # training reads the features
    assert "KILN_PIP_SPEC" in (root / "azure-pipelines.yml").read_text()
    r = load(root, "staging")
    assert r.ok, [d.summary for d in r.diagnostics]
    train = next(t for t in r.plain()["resources"]["jobs"]["model_training_job"]["tasks"]
                 if t["task_key"] == "Train")
    params = train["notebook_task"]["base_parameters"]
    assert params["activity_table"] == "staging.churn_mlops.customer_activity"
    assert r.plain()["variables"]["online_store"]["value"] == "churn-mlops-staging"
    # the generated code imports only Databricks' and MLflow's APIs (and its own modules)
    for notebook in ("ComputeFeatures", "Train", "BatchInference"):
        code = (root / "notebooks" / f"{notebook}.py").read_text()
        assert "kiln" not in code, notebook
        assert "from databricks.feature_engineering import FeatureEngineeringClient" in code
    pipelines = (root / "azure-pipelines.yml").read_text()
    assert "environment: prod" in pipelines and "kiln models promote" in pipelines


def test_questions_on_a_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "KILN_HOME": str(tmp_path / "home")}
    seen = run_on_terminal(
        [kiln_exe(), "bundle", "init", "--output-dir", str(tmp_path / "out")], tmp_path, env,
        {b"Project name": b"Bad Name", b"use 2-40 lowercase": b"risk_model",
         b"CI/CD platform": b"azure_devops", b"catalog for dev": b"",
         b"catalog for staging": b"", b"catalog for prod": b"prod_uc",
         b"catalog for test": b"", b"Feature Store": b"no"})
    assert "Created" in seen, seen
    root = tmp_path / "out" / "risk_model"
    assert (root / "azure-pipelines.yml").exists()
    assert "catalog_name: prod_uc" in (root / "databricks.yml").read_text()


@pytest.mark.parametrize("params, message", [
    ({"colour": "blue"}, "unknown parameter 'colour' for template mlops-stack"),
    ({"ci_platform": "jenkins"}, "ci_platform must be one of github_actions, azure_devops"),
    ({"project_name": "Churn-ML"}, "project_name 'Churn-ML' is not valid"),
    ({"catalog_dev": 3}, "catalog_dev must be a string, got 3"),
])
def test_bad_parameters_are_refused_and_nothing_is_written(tmp_path: Path, params: dict,
                                                           message: str) -> None:
    proc = init(tmp_path, params, ok=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert str(tmp_path / "params.json") in proc.stderr  # where the bad value came from
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_files_and_existing_projects_are_refused(tmp_path: Path) -> None:
    (tmp_path / "params.json").write_text('{"project_name": "x",\n  oops}')
    proc = subprocess.run([kiln_exe(), "bundle", "init", "--config-file", "params.json",
                           "--output-dir", "out"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 1 and "params.json:2:3: not valid JSON" in proc.stderr
    init(tmp_path, {})
    again = init(tmp_path, {}, ok=False)
    assert "already exists" in again.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["churn_mlops"]
    unknown = subprocess.run([kiln_exe(), "bundle", "init", "nope"], cwd=tmp_path,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert unknown.returncode == 1 and "no template named 'nope'" in unknown.stderr
