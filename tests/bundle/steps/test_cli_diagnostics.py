"""Golden diagnostics: for each class of mistake, kiln says what the Databricks CLI says
(its words, its severity), on kiln's own fixtures."""

from __future__ import annotations

import pytest

from tests.conftest import errors, load, summaries, warnings
from tests.e2e.helpers import Kiln


def test_variable_reference_in_the_bundle_name_is_a_warning(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: 'x-${var.v}'}\n"
                                           "variables: {v: {default: a}}\n"}))
    assert r.ok
    (w,) = warnings(r)
    assert w.summary.startswith("Please do not use variable interpolation in the name of "
                                "your bundle.") and w.paths == (("bundle", "name"),)


@pytest.mark.parametrize("engine, severity, summary", [
    ("direct", None, None),
    ("terraform", "Warning", "the terraform deployment engine is deprecated and will stop "
                             "working in a future version of the CLI"),
    ("tf", "Error", 'invalid value "tf" for bundle.engine (expected "terraform" or "direct")')])
def test_bundle_engine(bundle_dir, engine: str, severity: str | None, summary: str | None) -> None:
    r = load(bundle_dir({"databricks.yml": f"bundle: {{name: x, engine: {engine}}}\n"}))
    got = [(d.severity.label, d.summary) for d in r.diagnostics]
    assert got == ([(severity, summary)] if severity else [])


@pytest.mark.parametrize("field", ["root_path", "file_path", "state_path", "resource_path"])
def test_volumes_hold_artifacts_only(bundle_dir, field: str) -> None:
    r = load(bundle_dir({"databricks.yml": f"bundle: {{name: x}}\nworkspace: {{{field}: /Volumes/c/s/v}}\n"}))
    assert summaries(errors(r)) == [f"workspace.{field} /Volumes/c/s/v starts with /Volumes. "
                                    "/Volumes can only be used with workspace.artifact_path."]
    ok = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nworkspace: {artifact_path: /Volumes/c/s/v}\n"}))
    assert not errors(ok)


def test_development_presets_cannot_unpause_triggers(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\ntargets:\n  dev:\n    mode: development\n"
                                           "    presets: {trigger_pause_status: UNPAUSED}\n"}))
    assert summaries(errors(r)) == ["target with 'mode: development' cannot set trigger pause "
                                    "status to UNPAUSED by default"]


ENDPOINT = """bundle: {name: x}
resources:
  model_serving_endpoints:
    e:
      name: e
      config:
        served_models: [{model_name: m, model_version: "1", scale_to_zero_enabled: true}]
"""


def test_served_models_become_served_entities(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": ENDPOINT}))
    assert summaries(warnings(r)) == ["Using served_models is deprecated"]
    assert r.plain()["resources"]["model_serving_endpoints"]["e"]["config"] == {
        "served_entities": [{"entity_name": "m", "entity_version": "1",
                             "scale_to_zero_enabled": True}]}
    both = ENDPOINT + "        served_entities: [{entity_name: m, entity_version: '1'}]\n"
    assert summaries(errors(load(bundle_dir({"databricks.yml": both})))) == [
        "Cannot use both served_models and served_entities"]


def test_strict_keeps_warnings_and_adds_one_error(tmp_path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    (root / "databricks.yml").write_text("bundle: {name: x}\nfoo: 1\nbar: 2\n")
    kiln = Kiln(tmp_path / "home")
    plain = kiln.run("bundle", "validate", cwd=root)
    assert plain.stderr.count("Warning: unknown field") == 2
    strict = kiln.run("bundle", "validate", "--strict", cwd=root, ok=False)
    assert strict.returncode == 1
    assert strict.stderr.count("Warning: unknown field") == 2
    assert "Error: 2 warnings were found. Warnings are not allowed in strict mode" in strict.stderr


def test_defaults_and_cluster_fixups_as_the_cli_fills_them(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
resources:
  jobs:
    j:
      name: j
      job_clusters:
        - job_cluster_key: plain
          new_cluster: {spark_version: "15.4.x-scala2.12", node_type_id: i3.xlarge}
        - job_cluster_key: pooled
          new_cluster:
            instance_pool_id: pool-1
            node_type_id: i3.xlarge
            num_workers: 2
            aws_attributes: {instance_profile_arn: arn, availability: SPOT}
  pipelines:
    p: {name: p}
  clusters:
    c: {cluster_name: c, driver_instance_pool_id: d}
  volumes:
    v: {catalog_name: main, schema_name: s, name: v}
"""}))
    res = r.plain()["resources"]
    plain, pooled = (c["new_cluster"] for c in res["jobs"]["j"]["job_clusters"])
    assert plain["num_workers"] == 0  # stated, as the Jobs API receives it
    assert pooled == {"instance_pool_id": "pool-1", "num_workers": 2,
                      "aws_attributes": {"instance_profile_arn": "arn"}}
    assert res["pipelines"]["p"]["edition"] == "ADVANCED" and res["pipelines"]["p"]["channel"] == "CURRENT"
    assert res["clusters"]["c"] == {"cluster_name": "c", "autotermination_minutes": 60}
    assert res["volumes"]["v"]["volume_type"] == "MANAGED"


def test_names_of_the_bundles_own_schemas_become_references(bundle_dir) -> None:
    """So that deploy creates the schema first, and development mode's prefixed schema
    name reaches the model inside it."""
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
resources:
  catalogs: {cat: {name: main}}
  schemas: {sch: {catalog_name: main, name: ml}}
  registered_models: {m: {catalog_name: main, schema_name: ml, name: churn}}
  volumes: {v: {catalog_name: main, schema_name: other, name: raw}}
  quality_monitors: {q: {table_name: main.ml.t, output_schema_name: main.ml, assets_dir: /a}}
"""}))
    res = r.plain()["resources"]
    assert res["schemas"]["sch"]["catalog_name"] == "${resources.catalogs.cat.name}"
    assert res["registered_models"]["m"]["schema_name"] == "${resources.schemas.sch.name}"
    assert res["registered_models"]["m"]["catalog_name"] == "${resources.catalogs.cat.name}"
    assert res["volumes"]["v"]["schema_name"] == "other"  # not one of the bundle's schemas
    assert res["quality_monitors"]["q"]["output_schema_name"] == \
        "${resources.catalogs.cat.name}.${resources.schemas.sch.name}"


def test_fields_the_deploy_manages_and_names_the_apis_need(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
resources:
  jobs:
    j: {name: j, deployment: {kind: BUNDLE, deployment_id: d1}}
  job_runs:
    r: {job_id: 1, idempotency_token: t}
  dashboards:
    d: {serialized_dashboard: "{}", etag: e1}
  sql_warehouses:
    w: {name: "  "}
  genie_spaces:
    g: {title: g, file_path: /Workspace/g.json, serialized_space: "{}"}
  volumes:
    v: {catalog_name: c, schema_name: s, name: v, volume_path: /Volumes/c/s/v}
"""}))
    assert sorted(summaries(errors(r))) == sorted([
        "deployment_id must not be set in bundle configuration; it is managed by "
        "Declarative Automation Bundles",
        "idempotency_token must not be set in bundle configuration; the CLI sets it on each "
        "run-now request",
        "dashboard display_name is required", "dashboard warehouse_id is required",
        'dashboard "" has an etag set. Etags must not be set in bundle configuration',
        "sql_warehouse name is required",
        "both file_path and serialized_space are set; specify only one",
        "resources.volumes.v.volume_path is computed and read-only; remove it from the "
        "configuration"])


def test_a_volume_path_is_computed(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
resources:
  schemas: {s: {catalog_name: main, name: raw}}
  volumes: {v: {catalog_name: main, schema_name: raw, name: files}}
"""}))
    assert r.plain()["resources"]["volumes"]["v"]["volume_path"] == "/Volumes/main/raw/files"


def test_workspace_paths_and_parent_paths_lie_under_workspace(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
workspace: {root_path: /remote, artifact_path: /Volumes/c/s/v}
resources:
  dashboards: {d: {display_name: d, warehouse_id: w, parent_path: shared}}
  genie_spaces: {g: {title: g, parent_path: ""}}
"""}))
    ws = r.plain()["workspace"]
    assert ws["root_path"] == "/Workspace/remote" and ws["file_path"] == "/Workspace/remote/files"
    assert ws["artifact_path"] == "/Volumes/c/s/v"
    res = r.plain()["resources"]
    assert res["dashboards"]["d"]["parent_path"] == "/Workspace/shared"
    assert res["genie_spaces"]["g"]["parent_path"] == "/Workspace"


def test_scripts_and_app_env_hints(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
scripts:
  empty: {}
  inline: {content: 'echo ${bundle.name}'}
  env: {env: {JOB: '${resources.jobs.j.id}', NAME: '${bundle.name}'}, content: echo $JOB}
resources:
  jobs: {j: {name: j}}
  apps:
    a: {name: a, config: {env: [{name: S, valueFrom: secret}]}}
"""}))
    assert sorted(summaries(errors(r))) == [
        "${resources.jobs.j.id} cannot be used in scripts.env.env.JOB; only ${bundle.*}, "
        "${workspace.*}, and ${var.*} are resolved before scripts execute",
        "Found ${bundle.name} in script inline.content. Interpolation syntax ${...} is not "
        "supported in script content",
        "Script empty has no content"]
    assert "Use 'value_from' instead of 'valueFrom'" in summaries(warnings(r))


def test_alerts_load_their_dbalert_file(bundle_dir) -> None:
    alert = ('{"query_lines": ["select 1", "from t"], "custom_summary": "s", '
             '"evaluation": {"comparison_operator": "EQUAL"}}')
    files = {"databricks.yml": "bundle: {name: x}\ninclude: [resources/*.yml]\n",
             "resources/a.yml": "resources:\n  alerts:\n    a: {display_name: a, warehouse_id: w,"
                                " file_path: ./a.dbalert.json}\n",
             "resources/a.dbalert.json": alert}
    r = load(bundle_dir(files))
    a = r.plain()["resources"]["alerts"]["a"]
    assert a["file_path"] == "resources/a.dbalert.json"
    assert a["query_text"] == "select 1\nfrom t\n" and a["custom_summary"] == "s"
    bad = dict(files, **{"resources/a.yml": files["resources/a.yml"].replace(
        "file_path:", "query_text: q, file_path:")})
    assert summaries(errors(load(bundle_dir(bad)))) == [
        "field query_text is not allowed in the bundle configuration."]
    ref = dict(files, **{"resources/a.dbalert.json": alert.replace("s\"", "${var.x}\"")})
    assert summaries(errors(load(bundle_dir(ref)))) == [
        ".alert file resources/a.dbalert.json must not contain variable interpolations."]


def test_local_wheels_need_a_recent_runtime(bundle_dir) -> None:
    yml = """bundle: {name: x}
resources:
  clusters: {old: {cluster_name: old, spark_version: 12.2.x-scala2.12}}
  jobs:
    j:
      name: j
      tasks:
        - task_key: t
          existing_cluster_id: ${resources.clusters.old.id}
          python_wheel_task: {package_name: p, entry_point: main}
          libraries: [{whl: ./dist/p.whl}]
"""
    assert summaries(errors(load(bundle_dir({"databricks.yml": yml})))) == [
        "task t uses cluster with incompatible DBR version 12.2.x-scala2.12",
        "Python wheel tasks require compute with DBR 13.3+ to include local libraries. Please "
        "change your cluster configuration or use the experimental 'python_wheel_wrapper' "
        "setting. See https://docs.databricks.com/dev-tools/bundles/python-wheel.html for more "
        "information."]
    wrapped = yml + "experimental: {python_wheel_wrapper: true}\n"
    assert not errors(load(bundle_dir({"databricks.yml": wrapped})))


def test_synced_paths_stay_in_the_repository(tmp_path) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "databricks.yml").write_text("bundle: {name: x}\nsync: {paths: ['..']}\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert summaries(errors(load(repo))) == [
        f'path "{tmp_path}" is not within repository root "{repo}"']


def test_a_genie_space_written_inline_is_serialized(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nresources:\n  genie_spaces:\n"
                                           "    g: {title: g, serialized_space: {b: 1, a: [x]}}\n"}))
    assert r.plain()["resources"]["genie_spaces"]["g"]["serialized_space"] == '{"a":["x"],"b":1}'


def test_apps_need_one_source_and_a_place_in_the_permissions_they_use(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
resources:
  jobs:
    j: {name: j, permissions: [{level: CAN_VIEW, group_name: g}]}
  apps:
    a:
      name: a
      source_code_path: ./app
      resources: [{name: j, job: {id: '${resources.jobs.j.id}', permission: CAN_MANAGE_RUN}}]
    nothing: {name: n}
""", "app/app.py": ""}))
    assert summaries(errors(r)) == ["Missing app source code path or git source"]
    assert summaries(warnings(r)) == [
        'app "a" references jobs "j" which has permissions set. To prevent permission '
        "override after deploying the app, please add the app service principal to the jobs "
        "permissions"]
