"""Rule 5: target selection and target overrides."""

from __future__ import annotations

from tests.conftest import errors, load, summaries

TWO_TARGETS = """
bundle: {name: x}
targets:
  dev: {}
  prod: {}
"""


def test_no_targets_means_a_default_target(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\n"}))
    assert r.ok and r.bundle.target == "default"


def test_single_target_is_selected(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\ntargets: {only: {}}\n"}))
    assert r.bundle.target == "only"


def test_default_target_is_selected(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": TWO_TARGETS.replace("prod: {}", "prod: {default: true}")}))
    assert r.bundle.target == "prod"
    assert "targets" not in r.plain()


def test_please_specify_target(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": TWO_TARGETS}))
    assert summaries(errors(r)) == ["please specify target"]


def test_no_such_target(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": TWO_TARGETS}), target="qa")
    assert summaries(errors(r)) == ["qa: no such target. Available targets: dev, prod"]


def test_target_from_environment_variable_via_cli_context(bundle_dir) -> None:
    from kiln.cli.context import load_context
    from kiln.settings import Settings

    ctx = load_context(None, (), Settings({"DATABRICKS_BUNDLE_TARGET": "prod",
                                           "KILN_HOME": "/nonexistent"}))
    assert ctx.target == "prod"


def test_multiple_defaults_is_an_error(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": TWO_TARGETS.replace("{}", "{default: true}")}))
    assert summaries(errors(r)) == ["multiple targets are marked as default: dev, prod"]


def test_environments_is_the_old_name(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\nenvironments:\n  dev: {mode: development}\n"}))
    assert r.bundle.target == "dev"
    assert r.plain()["bundle"]["mode"] == "development"


def test_overrides_merge_maps_and_concatenate_sequences(bundle_dir) -> None:
    r = load(bundle_dir({
        "databricks.yml": """
            bundle: {name: x}
            resources:
              jobs:
                j:
                  name: job
                  tags: {team: ml, cost: a}
                  email_notifications: {on_failure: [a@x.com]}
            targets:
              prod:
                resources:
                  jobs:
                    j:
                      tags: {cost: b}
                      email_notifications: {on_failure: [oncall@x.com]}
        """,
    }))
    j = r.plain()["resources"]["jobs"]["j"]
    assert j["tags"] == {"team": "ml", "cost": "b"}
    assert j["email_notifications"]["on_failure"] == ["a@x.com", "oncall@x.com"]


def test_kind_mismatch_cannot_merge(bundle_dir) -> None:
    r = load(bundle_dir({
        "databricks.yml": """
            bundle: {name: x}
            variables: {v: {default: {a: 1}, type: complex}}
            targets:
              t:
                variables: {}
                resources: {jobs: {j: {tags: {a: b}}}}
        """,
        "x.yml": "",
    }))
    assert r.ok  # sanity: a compatible override
    r = load(bundle_dir({
        "databricks.yml": """
            bundle: {name: x}
            sync: {include: [a]}
            targets:
              t:
                sync: {include: '${var.x}'}
        """,
    }))
    assert summaries(errors(r)) == ["cannot merge sequence with string"]


def test_mode_cluster_id_and_git_move_under_bundle_run_as_replaced(bundle_dir) -> None:
    r = load(bundle_dir({
        "databricks.yml": """
            bundle: {name: x, git: {origin_url: https://example.com/repo.git}}
            run_as: {user_name: someone@example.com}
            targets:
              prod:
                mode: production
                cluster_id: 0123-abc
                git: {branch: release}
                run_as: {service_principal_name: sp-123}
                workspace: {root_path: /Workspace/Shared/x}
        """,
    }))
    p = r.plain()
    assert p["bundle"]["mode"] == "production"
    assert p["bundle"]["cluster_id"] == "0123-abc"
    assert p["bundle"]["git"]["branch"] == "release"
    assert p["bundle"]["git"]["origin_url"] == "https://example.com/repo.git"
    assert p["run_as"] == {"service_principal_name": "sp-123"}


def test_target_variables_replace_default_or_lookup(bundle_dir) -> None:
    r = load(bundle_dir({
        "databricks.yml": """
            bundle: {name: x}
            variables:
              catalog: {default: main}
              warehouse: {lookup: {warehouse: Shared}}
            targets:
              dev:
                variables:
                  catalog: dev
                  warehouse: {default: wh-123}
        """,
    }))
    v = r.plain()["variables"]
    assert v["catalog"]["value"] == "dev"
    assert v["warehouse"] == {"default": "wh-123", "value": "wh-123"}


def test_target_variable_must_be_declared(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\ntargets:\n  dev:\n    variables: {nope: 1}\n"}))
    assert summaries(errors(r)) == ["variable nope is not defined but is assigned a value"]
    assert errors(r)[0].locations[0].line == 4
