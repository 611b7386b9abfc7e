"""Real-world shaped bundles validate cleanly for every target."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import load

HERE = Path(__file__).resolve().parent.parent
MLOPS = HERE / "fixtures" / "mlops_stacks"
CHURN = HERE.parent / "examples" / "churn"


@pytest.mark.parametrize("target", ["dev", "staging", "prod", "test"])
def test_mlops_stacks_project_validates_cleanly(target: str) -> None:
    r = load(MLOPS, target)
    assert r.ok and r.diagnostics == [], [d.render() for d in r.diagnostics]
    p = r.plain()
    training = p["resources"]["jobs"]["model_training_job"]
    assert [t["task_key"] for t in training["tasks"]] == ["ModelDeployment", "ModelValidation", "Train"]
    train = next(t for t in training["tasks"] if t["task_key"] == "Train")
    # the variable, not the (dev-prefixed) resource name: as on Databricks
    assert train["notebook_task"]["base_parameters"]["model_name"] == \
        f"{target}.churn_mlops.churn_mlops-model"
    assert train["notebook_task"]["notebook_path"].endswith("/files/training/notebooks/Train")
    # the anchored cluster is shared by value, the variable inside it resolved
    assert training["job_clusters"][0]["new_cluster"]["node_type_id"] == "Standard_D3_v2"
    monitor = p["resources"]["jobs"]["retraining_job"]
    cond = next(t for t in monitor["tasks"] if t["task_key"] == "is_metric_violated")
    assert cond["condition_task"]["left"] == \
        "{{tasks.monitored_metric_violation_check.values.is_metric_violated}}"
    retrain = next(t for t in monitor["tasks"] if t["task_key"] == "trigger_retraining")
    assert retrain["run_job_task"]["job_id"] == "${resources.jobs.model_training_job.id}"
    grants = p["resources"]["registered_models"]["model"]["grants"]
    assert {"principal": "ml-engineers", "privileges": ["EXECUTE"]} in grants


def test_mlops_stacks_dev_is_personal_and_paused() -> None:
    p = load(MLOPS, "dev").plain()
    job = p["resources"]["jobs"]["model_training_job"]
    assert job["name"] == "[dev alice] dev-churn_mlops-model-training-job"
    assert job["schedule"]["pause_status"] == "PAUSED"
    assert p["resources"]["registered_models"]["model"]["name"] == "dev_alice_churn_mlops-model"
    assert p["workspace"]["root_path"] == "/Workspace/Users/alice@example.com/.bundle/churn_mlops/dev"


def test_mlops_stacks_targets_do_not_leak_into_each_other() -> None:
    staging = load(MLOPS, "staging").plain()
    prod = load(MLOPS, "prod").plain()
    assert staging["variables"]["catalog_name"]["value"] == "staging"
    assert prod["variables"]["catalog_name"]["value"] == "prod"
    assert staging["workspace"]["root_path"] != prod["workspace"]["root_path"]


@pytest.mark.parametrize("target", ["dev", "prod"])
def test_example_project_validates_cleanly(target: str) -> None:
    r = load(CHURN, target)
    assert r.ok and r.diagnostics == [], [d.render() for d in r.diagnostics]
