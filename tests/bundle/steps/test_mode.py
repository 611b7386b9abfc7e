"""Rule 9: development and production modes, and presets."""

from __future__ import annotations

from tests.conftest import NOTEBOOK, errors, load, summaries

RESOURCES = """
resources:
  jobs:
    train:
      name: train
      schedule: {quartz_cron_expression: "0 0 * * * ?", timezone_id: UTC}
      trigger: {periodic: {interval: 1, unit: HOURS}}
      tags: {team: ml}
    explicit:
      name: explicit
      max_concurrent_runs: 2
      schedule: {quartz_cron_expression: "0 0 * * * ?", timezone_id: UTC, pause_status: UNPAUSED}
  experiments:
    exp: {name: /Users/alice@example.com/churn}
  registered_models:
    model: {name: churn, catalog_name: main, schema_name: ml}
  schemas:
    sch: {name: features, catalog_name: main}
  model_serving_endpoints:
    ep:
      name: churn-endpoint
      config:
        served_entities: [{entity_name: main.ml.churn, entity_version: "1"}]
"""


def test_development_mode(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\ntargets:\n  dev: {mode: development}\n"
                                           + RESOURCES}))
    assert r.ok, r.diagnostics
    p = r.plain()
    jobs = p["resources"]["jobs"]
    assert jobs["train"]["name"] == "[dev alice] train"
    assert jobs["train"]["tags"] == {"dev": "alice", "team": "ml"}
    assert jobs["train"]["max_concurrent_runs"] == 4
    assert jobs["train"]["schedule"]["pause_status"] == "PAUSED"
    assert jobs["train"]["trigger"]["pause_status"] == "PAUSED"
    # what the user wrote explicitly stays
    assert jobs["explicit"]["max_concurrent_runs"] == 2
    assert jobs["explicit"]["schedule"]["pause_status"] == "UNPAUSED"
    assert p["resources"]["experiments"]["exp"]["name"] == "/Users/alice@example.com/[dev alice] churn"
    assert p["resources"]["registered_models"]["model"]["name"] == "dev_alice_churn"
    assert p["resources"]["schemas"]["sch"]["name"] == "dev_alice_features"
    assert p["resources"]["model_serving_endpoints"]["ep"]["name"] == "dev_alice_churn-endpoint"
    assert {"key": "dev", "value": "alice"} in p["resources"]["experiments"]["exp"]["tags"]
    assert p["bundle"]["deployment"]["lock"]["enabled"] is False


def test_development_mode_requires_a_personal_root_path(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\ntargets:\n  dev:\n    mode: development\n"
                                           "    workspace: {root_path: /Workspace/Shared/x}\n"}))
    assert summaries(errors(r)) == [
        "root_path must start with '~/' or contain the current username to ensure uniqueness "
        "when using 'mode: development'"]


def test_production_mode_requires_root_path(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\ntargets:\n  prod: {mode: production}\n"
                                           + RESOURCES}))
    (err,) = errors(r)
    assert err.summary == ("target with 'mode: production' must set 'workspace.root_path' to make "
                           "sure only one copy is deployed")
    assert err.locations[0].line == 3


def test_production_mode_with_run_as_only_recommends(bundle_dir) -> None:
    no_endpoint = RESOURCES.split("  model_serving_endpoints:")[0]  # cannot run as another
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nrun_as: {service_principal_name: sp}\n"
                                           "targets:\n  prod: {mode: production}\n" + no_endpoint}))
    assert r.ok
    assert [d.severity.label for d in r.diagnostics] == ["Recommendation"]


def test_production_mode_leaves_names_alone(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\ntargets:\n  prod:\n    mode: production\n"
                                           "    workspace: {root_path: /Workspace/Shared/x}\n" + RESOURCES}))
    assert r.ok
    jobs = r.plain()["resources"]["jobs"]
    assert jobs["train"]["name"] == "train"
    assert jobs["train"]["schedule"]["pause_status"] == "UNPAUSED"
    assert jobs["train"]["max_concurrent_runs"] == 1


def test_production_mode_refuses_development_pipelines(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nworkspace: {root_path: /Shared/x}\n"
                                           "targets:\n  prod: {mode: production}\n"
                                           "resources: {pipelines: {p: {name: p, development: true}}}\n"}))
    assert "target with 'mode: production' cannot include a pipeline with 'development: true'" \
        in summaries(errors(r))


def test_presets(bundle_dir) -> None:
    presets = (
        "bundle: {name: x}\n"
        "presets:\n"
        '  name_prefix: "[qa] "\n'
        "  tags: {env: qa, team: other}\n"
        "  trigger_pause_status: PAUSED\n"
        "  jobs_max_concurrent_runs: 9\n"
    )
    r = load(bundle_dir({"databricks.yml": presets + RESOURCES}))
    assert r.ok, r.diagnostics
    p = r.plain()
    train = p["resources"]["jobs"]["train"]
    assert train["name"] == "[qa] train"
    assert train["tags"] == {"env": "qa", "team": "ml"}  # the job's own tag wins
    assert train["schedule"]["pause_status"] == "PAUSED"
    assert train["max_concurrent_runs"] == 9
    assert p["resources"]["registered_models"]["model"]["name"] == "qa_churn"


def test_notebook_check_happens_in_every_mode(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nresources: {jobs: {j: {tasks: "
                                           "[{task_key: a, notebook_task: {notebook_path: nb.py}}]}}}\n",
                         "nb.py": NOTEBOOK}))
    assert r.ok
