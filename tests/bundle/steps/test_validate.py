"""The checks only a resolved bundle allows: what ``bundle validate`` reports as the
Databricks CLI does (required fields, allowed values, job cluster keys), and what deploy
checks before it writes anything (task graphs, endpoints' traffic, resource types kiln
skips), which validate leaves alone as the CLI does."""

from __future__ import annotations

import pytest

from kiln.errors import ConfigError
from tests.conftest import NOTEBOOK, load, summaries, warnings


def deploy_errors(r):
    """Validate passes (as in the Databricks CLI); deploy's own checks find the errors."""
    from kiln.bundle.deploy_checks import deploy_checks

    assert r.ok, r.diagnostics
    return [d for d in deploy_checks(r.bundle.tree) if d.severity.name == "ERROR"]


def jobs(tasks: str, extra: str = "") -> dict[str, str]:
    return {"databricks.yml": f"bundle: {{name: x}}\nresources:\n  jobs:\n    j:\n{extra}      tasks:\n{tasks}",
            "nb.py": NOTEBOOK}


def test_depends_on_unknown_task(bundle_dir) -> None:
    r = load(bundle_dir(jobs("""        - task_key: a
          notebook_task: {notebook_path: nb.py}
        - task_key: b
          depends_on: [{task_key: aa}]
          notebook_task: {notebook_path: nb.py}
""")))
    (err,) = deploy_errors(r)
    assert err.summary == 'task "b" depends on "aa", which is not a task of this job'
    assert err.detail == 'Did you mean "a"?'
    assert err.locations[0].line == 9


def test_cycle_in_depends_on(bundle_dir) -> None:
    r = load(bundle_dir(jobs("""        - task_key: a
          depends_on: [{task_key: c}]
          notebook_task: {notebook_path: nb.py}
        - task_key: b
          depends_on: [{task_key: a}]
          notebook_task: {notebook_path: nb.py}
        - task_key: c
          depends_on: [{task_key: b}]
          notebook_task: {notebook_path: nb.py}
""")))
    assert summaries(deploy_errors(r)) == ["cycle in task dependencies: a -> c -> b -> a"]


def test_task_types(bundle_dir) -> None:
    r = load(bundle_dir(jobs("""        - task_key: none
        - task_key: two
          notebook_task: {notebook_path: nb.py}
          condition_task: {op: EQUAL_TO, left: "1", right: "1"}
""")))
    assert summaries(deploy_errors(r)) == ['task "none" has no task type',
                                    'task "two" has more than one task type: notebook_task, '
                                    "condition_task"]


def test_outcome_only_after_condition_tasks(bundle_dir) -> None:
    r = load(bundle_dir(jobs("""        - task_key: a
          notebook_task: {notebook_path: nb.py}
        - task_key: b
          depends_on: [{task_key: a, outcome: "true"}]
          notebook_task: {notebook_path: nb.py}
""")))
    assert summaries(deploy_errors(r)) == ['task "b" sets an outcome on "a", which is not a condition task']


def test_cluster_and_environment_keys(bundle_dir) -> None:
    r = load(bundle_dir(jobs("""        - task_key: a
          job_cluster_key: big
          environment_key: default
          notebook_task: {notebook_path: nb.py}
""", extra="      job_clusters: [{job_cluster_key: small, new_cluster: {num_workers: 1}}]\n")))
    assert summaries(warnings(r)) == ["job_cluster_key big is not defined"]  # the CLI's words
    assert summaries(deploy_errors(r)) == [
        'job_cluster_key "big" is not defined in the job\'s job_clusters',
        'environment_key "default" is not defined in the job\'s environments']


def test_required_fields_and_enum_values(bundle_dir) -> None:
    r = load(bundle_dir(jobs("""        - task_key: a
          run_if: SOMETIMES
          notebook_task: {base_parameters: {x: "1"}}
        - task_key: c
          condition_task: {op: SAME, left: "1"}
""")))
    # warnings, in the Databricks CLI's words and order: the bundle validates...
    assert r.ok and summaries(warnings(r)) == [
        'invalid value "SAME" for enum field. Valid values are [EQUAL_TO GREATER_THAN '
        "GREATER_THAN_OR_EQUAL LESS_THAN LESS_THAN_OR_EQUAL NOT_EQUAL]",
        'invalid value "SOMETIMES" for enum field. Valid values are [ALL_DONE ALL_FAILED '
        "ALL_SUCCESS AT_LEAST_ONE_FAILED AT_LEAST_ONE_SUCCESS NONE_FAILED]",
        'required field "notebook_path" is not set',
        'required field "right" is not set']
    # ...and deploy, which needs the typed configuration, refuses it with the same places
    with pytest.raises(ConfigError) as e:
        r.bundle.config
    assert 'required field "notebook_path" is not set' in summaries(e.value.diagnostics())


def test_a_target_can_supply_a_required_field(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """
        bundle: {name: x}
        resources:
          registered_models:
            m: {name: churn, schema_name: ml}
        targets:
          dev:
            resources:
              registered_models:
                m: {catalog_name: dev}
    """}))
    assert r.ok, r.diagnostics


def test_serving_traffic_must_add_up(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """
        bundle: {name: x}
        resources:
          model_serving_endpoints:
            ep:
              name: ep
              config:
                served_entities:
                  - {name: current, entity_name: main.ml.m, entity_version: "1"}
                  - {name: next, entity_name: main.ml.m, entity_version: "2"}
                traffic_config:
                  routes:
                    - {served_entity_name: current, traffic_percentage: 80}
                    - {served_entity_name: nxt, traffic_percentage: 10}
    """}))
    assert summaries(deploy_errors(r)) == [
        'route names served entity "nxt", which the endpoint does not serve',
        "traffic percentages of endpoint ep add up to 90, not 100"]


def test_resource_types_kiln_does_not_deploy_validate_clean_and_deploy_warns(bundle_dir) -> None:
    from kiln.deploy.deployer import bundle_tree
    from kiln.deploy.resources import not_deployed

    r = load(bundle_dir({"databricks.yml": """
        bundle: {name: x}
        resources:
          pipelines:
            p: {name: etl, catalog: main, schema: raw}
          clusters:
            c: {cluster_name: shared, num_workers: 2}
          apps:
            a: {name: app, source_code_path: ./app}
    """, "app/app.py": "print(1)\n"}))
    assert r.ok and not r.diagnostics  # as the Databricks CLI: a valid bundle
    assert summaries(not_deployed(bundle_tree(r.bundle))) == [
        "kiln does not deploy apps yet; skipped: a",
        "kiln does not deploy clusters yet; skipped: c",
        "kiln does not deploy pipelines yet; skipped: p"]


def test_every_deployable_resource_type_validates(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """
        bundle: {name: x}
        resources:
          catalogs:
            c: {name: main, comment: the catalog}
          schemas:
            s: {name: ml, catalog_name: main, grants: [{principal: users, privileges: [USE_SCHEMA]}]}
          volumes:
            v: {name: raw, catalog_name: main, schema_name: ml, volume_type: MANAGED}
          experiments:
            e: {name: /Shared/exp, tags: [{key: team, value: ml}]}
          registered_models:
            m: {name: churn, catalog_name: main, schema_name: ml}
          model_serving_endpoints:
            ep:
              name: churn
              config:
                served_entities: [{entity_name: main.ml.churn, entity_version: "3", workload_size: Small,
                                   scale_to_zero_enabled: true}]
                auto_capture_config: {catalog_name: main, schema_name: ml, table_name_prefix: churn}
              rate_limits: [{calls: 100, key: user, renewal_period: minute}]
          quality_monitors:
            q:
              table_name: main.ml.churn_payload
              output_schema_name: main.ml
              assets_dir: /Shared/monitor
              time_series: {timestamp_col: ts, granularities: ["1 day"]}
              schedule: {quartz_cron_expression: "0 0 * * * ?", timezone_id: UTC}
    """}))
    assert r.ok, r.diagnostics
    assert r.diagnostics == []
    cfg = r.bundle.config  # the typed form builds too
    assert cfg.resources.model_serving_endpoints["ep"].config.served_entities[0].workload_size == "Small"
    assert cfg.resources.quality_monitors["q"].time_series.granularities == ["1 day"]
