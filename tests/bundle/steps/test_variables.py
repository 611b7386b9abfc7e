"""Rule 7: variables, their precedence, and reference resolution."""

from __future__ import annotations

import json

import pytest

from kiln.errors import KilnError
from tests.conftest import errors, load, summaries, warnings

BASE = """
bundle: {name: demo}
variables:
  catalog:
    description: where tables live
    default: root_default
targets:
  dev:
    default: true
    variables:
      catalog: target_default
resources:
  jobs:
    j:
      name: ${var.catalog}-job
"""


def value(r, name="catalog"):
    return r.plain()["variables"][name]["value"]


def test_precedence_cli_env_overrides_target_root(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": BASE})
    assert value(load(root)) == "target_default"
    (root / ".databricks/bundle/dev").mkdir(parents=True)
    (root / ".databricks/bundle/dev/variable-overrides.json").write_text(
        json.dumps({"catalog": "from_file"}))
    assert value(load(root)) == "from_file"
    assert value(load(root, env={"BUNDLE_VAR_catalog": "from_env"})) == "from_env"
    assert value(load(root, env={"BUNDLE_VAR_catalog": "from_env"},
                      var={"catalog": "from_cli"})) == "from_cli"
    assert load(root, var={"catalog": "from_cli"}).plain()["resources"]["jobs"]["j"]["name"] \
        == "from_cli-job"


def test_root_default_when_target_sets_nothing(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": BASE.replace("variables:\n      catalog: target_default\n", "")})
    assert value(load(root)) == "root_default"


def test_required_variable_without_value(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n  catalog: {description: c}\n"}))
    (err,) = errors(r)
    assert err.summary.startswith("no value assigned to required variable catalog.")
    assert '"--var"' in err.summary and "BUNDLE_VAR_catalog" in err.summary
    assert err.locations[0].line == 3


def test_cli_var_for_undeclared_variable(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": BASE}), var={"nope": "1"})
    assert summaries(errors(r)) == ["variable nope has not been defined"]


def test_lookup_without_a_workspace_is_a_clear_error(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n"
                                           "  wh: {lookup: {warehouse: Shared WH}}\n"}))
    (err,) = errors(r)
    assert "cannot look up warehouse 'Shared WH'" in err.summary


def test_lookup_resolves_through_the_workspace(bundle_dir) -> None:
    from kiln.bundle import LoadContext, load_bundle

    class Lookups:
        def resolve(self, kind: str, name: str) -> str:
            if (kind, name) == ("warehouse", "Shared WH"):
                return "wh-42"
            raise KilnError(f"no {kind} named {name!r}")

    root = bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n"
                                         "  wh: {lookup: {warehouse: Shared WH}}\n"
                                         "  cl: {lookup: {cluster: nope}}\n"})
    r = load_bundle(str(root), LoadContext(lookups=Lookups(), default_user="a@b.c"))
    assert summaries(errors(r)) == [
        "variable cl: failed to resolve cluster lookup 'nope': no cluster named 'nope'"]
    r = load_bundle(str(root), LoadContext(lookups=Lookups(), default_user="a@b.c",
                                           cli_vars=(("cl", "c-1"),)))
    assert r.ok and r.plain()["variables"]["wh"]["value"] == "wh-42"


COMPLEX = """
bundle: {name: x}
variables:
  cluster:
    type: complex
    default:
      spark_version: "15.4"
      num_workers: 2
      spark_conf: {"spark.a": "1"}
      init: [{path: /a.sh}, {path: /b.sh}]
  workers: {default: 3}
resources:
  jobs:
    j:
      name: workers-${var.cluster.num_workers}-${var.cluster.init[1].path}
      max_concurrent_runs: ${var.workers}
      job_clusters:
        - job_cluster_key: main
          new_cluster: ${var.cluster}
"""


def test_complex_variables_keep_type_and_index(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": COMPLEX}))
    assert r.ok, r.diagnostics
    j = r.plain()["resources"]["jobs"]["j"]
    assert j["name"] == "workers-2-/b.sh"
    assert j["max_concurrent_runs"] == 3  # a whole reference keeps the int
    assert j["job_clusters"][0]["new_cluster"]["spark_conf"] == {"spark.a": "1"}


def test_complex_variable_from_cli_is_refused(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": COMPLEX}), var={"cluster": "x"})
    assert summaries(errors(r)) == [
        "setting variables of complex type via --var flag is not supported: cluster"]


def test_map_default_of_a_variable_without_type_is_kept(bundle_dir) -> None:
    """As in the Databricks CLI: only a variable-overrides.json value is type-checked."""
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n  v: {default: {a: 1}}\n"}))
    assert r.ok and r.plain()["variables"]["v"]["value"] == {"a": 1}


def test_cli_vars_in_order_and_a_repeat_is_an_error(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n  a: {default: d}\n"})
    assert load(root, var={"a": "one"}).plain()["variables"]["a"]["value"] == "one"
    from kiln.bundle import LoadContext, load_bundle

    r = load_bundle(str(root), LoadContext(cli_vars=(("a", "one"), ("a", "two"))))
    assert summaries(errors(r)) == [
        "failed to assign two to a: variable has already been assigned value: one"]


def test_variables_file_must_agree_with_the_declared_type(bundle_dir) -> None:
    root = bundle_dir({
        "databricks.yml": "bundle: {name: x}\nvariables:\n  c: {type: complex, default: {}}\n"
                          "  s: {default: x}\n",
        ".databricks/bundle/default/variable-overrides.json": '{"s": {"k": 1}}'})
    assert summaries(errors(load(root))) == [
        "variable s is not of type complex, but the value in the variable file is a complex type"]


def test_embedding_a_map_is_an_error(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": COMPLEX.replace("workers-${var.cluster.num_workers}",
                                                         "workers-${var.cluster}")}))
    assert summaries(errors(r)) == ["cannot interpolate non-string value: ${var.cluster}"]


def test_resolved_string_in_int_field_is_normalized(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": COMPLEX}), var={"workers": "7"})
    assert r.plain()["resources"]["jobs"]["j"]["max_concurrent_runs"] == 7
    r = load(bundle_dir({"databricks.yml": COMPLEX}), var={"workers": "many"})
    (err,) = errors(r)
    assert err.summary == 'cannot parse "many" as an integer'
    assert err.locations[0].line == 15  # where the reference was written


@pytest.mark.parametrize("ref,expected", [
    ("${bundle.name}", "x"),
    ("${bundle.target}", "default"),
    ("${workspace.current_user.userName}", "alice@example.com"),
    ("${workspace.current_user.short_name}", "alice"),
    ("${workspace.file_path}", "/Workspace/Users/alice@example.com/.bundle/x/default/files"),
    ("${variables.v.value}", "hello"),
])
def test_builtin_references(bundle_dir, ref: str, expected: str) -> None:
    r = load(bundle_dir({"databricks.yml": f"bundle: {{name: x}}\nvariables: {{v: {{default: hello}}}}\n"
                                           f"resources: {{jobs: {{j: {{name: '{ref}'}}}}}}\n"}))
    assert r.plain()["resources"]["jobs"]["j"]["name"] == expected


def test_unknown_reference_suggests(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables: {catalog: {default: c}}\n"
                                           "resources: {jobs: {j: {name: '${var.catalgo}'}}}\n"}))
    (err,) = errors(r)
    assert err.summary == "reference does not exist: ${var.catalgo}"
    assert err.detail == "did you mean:\n  ${var.catalog}"
    assert err.paths == (("resources", "jobs", "j", "name"),)


def test_cycle_is_detected(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n"
                                           "  a: {default: '${var.b}'}\n  b: {default: 'x-${var.a}'}\n"}))
    assert summaries(errors(r)) == [
        "cycle detected in field resolution: variables.a.default -> var.b -> var.a -> var.b"]


def test_resource_references_stay_literal_but_must_exist(bundle_dir) -> None:
    yml = """
        bundle: {name: x}
        resources:
          jobs:
            train: {name: train}
            monitor:
              name: monitor
              tasks:
                - task_key: retrain
                  run_job_task: {job_id: '${resources.jobs.train.id}'}
    """
    r = load(bundle_dir({"databricks.yml": yml}))
    assert r.ok, r.diagnostics
    task = r.plain()["resources"]["jobs"]["monitor"]["tasks"][0]
    assert task["run_job_task"]["job_id"] == "${resources.jobs.train.id}"
    r = load(bundle_dir({"databricks.yml": yml.replace("jobs.train.id", "jobs.trian.id")}))
    (err,) = errors(r)
    assert err.summary == "reference does not exist: ${resources.jobs.trian.id}"
    assert err.detail == "did you mean:\n  ${resources.jobs.train.id}"


def test_other_prefixes_and_job_dynamic_values_stay_literal(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nresources: {jobs: {j: {"
                                           "name: '${foo.bar} {{job.run_id}}'}}}\n"}))
    assert r.plain()["resources"]["jobs"]["j"]["name"] == "${foo.bar} {{job.run_id}}"


def test_a_reference_built_by_interpolation_is_resolved(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
variables:
  foo_default: {default: hello}
  final: {default: '${var.foo_${bundle.target}}'}
"""}))
    assert r.ok, r.diagnostics
    assert r.plain()["variables"]["final"]["value"] == "hello"


def test_references_name_variables_in_any_script(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n  变量: {default: hi}\n"
                                           "  v: {default: '${var.变量}!'}\n"}))
    assert r.plain()["variables"]["v"]["value"] == "hi!"


def test_a_value_that_holds_a_reference_to_itself_warns_as_too_deep(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n"
                                           "  a: {type: complex, default: {hello: '${var.a}'}}\n"}))
    assert r.ok
    assert summaries(warnings(r)) == ["Variables references are too deep, stopping resolution "
                                      "after 11 rounds. Unresolved variables may remain."]


def test_indexing_into_a_string_is_an_error(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n  s: {default: text}\n"
                                           "  t: {default: '${var.s.name}'}\n"}))
    assert summaries(errors(r)) == ['expected a map to index "variables.s.value.name", found string']


def test_a_broken_variables_file_is_reported_in_the_clis_words(bundle_dir) -> None:
    root = bundle_dir({"databricks.yml": "bundle: {name: x}\nvariables:\n  a: {default: x}\n",
                       ".databricks/bundle/default/variable-overrides.json": "foo"})
    (err,) = errors(load(root))
    assert err.summary.endswith("variable-overrides.json:1:1: invalid character 'o' in "
                                "literal false (expecting 'a')")


def test_unset_schema_fields_read_as_zero_and_empty_resource_strings_are_dropped(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
variables:
  policy: {default: ""}
resources:
  jobs:
    j:
      name: 'j-${bundle.git.branch}'
      job_clusters: [{job_cluster_key: c, new_cluster: {num_workers: 1, policy_id: '${var.policy}'}}]
"""}))
    assert r.ok, r.diagnostics
    j = r.plain()["resources"]["jobs"]["j"]
    assert j["name"] == "j-"  # outside a repository the branch is ""
    assert "policy_id" not in j["job_clusters"][0]["new_cluster"]
    assert "branch" not in r.plain()["bundle"]["git"]
