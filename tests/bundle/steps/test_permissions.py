"""Permissions as the Databricks CLI resolves them: top-level levels mapped per resource
type, the deploying identity as owner or manager, one entry per principal at its highest
level, overlap warnings and the recommendation."""

from __future__ import annotations

from tests.conftest import load, summaries, warnings

YML = """bundle: {name: x}
permissions:
  - {level: CAN_RUN, group_name: ops}
  - {level: CAN_VIEW, user_name: bob@example.com}
resources:
  jobs:
    j:
      name: j
      permissions: [{level: CAN_VIEW, user_name: bob@example.com},
                    {level: CAN_MANAGE, user_name: alice@example.com}]
  experiments:
    e: {name: /Shared/e}
  registered_models:
    m: {name: m, catalog_name: c, schema_name: s}
"""


def test_levels_owner_and_overlap(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": YML}))
    res = r.plain()["resources"]
    assert res["jobs"]["j"]["permissions"] == [
        {"level": "CAN_VIEW", "user_name": "bob@example.com"},  # its own entry wins
        {"level": "IS_OWNER", "user_name": "alice@example.com"},  # CAN_MANAGE raised
        {"level": "CAN_MANAGE_RUN", "group_name": "ops"}]
    assert res["experiments"]["e"]["permissions"] == [
        {"level": "CAN_READ", "user_name": "bob@example.com"},  # experiments have no CAN_RUN
        {"level": "CAN_MANAGE", "user_name": "alice@example.com"}]
    assert "permissions" not in res["registered_models"]["m"]  # UC grants, not permissions
    assert summaries(warnings(r)) == ["'jobs' already has permissions set for "
                                      "'bob@example.com' user name"]
    (rec,) = [d for d in r.diagnostics if d.severity.label == "Recommendation"]
    assert rec.summary.startswith("permissions section should explicitly include the current "
                                  "deployment identity 'alice@example.com'")


def test_a_principal_is_listed_once_at_its_highest_level(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": """bundle: {name: x}
resources:
  jobs:
    j:
      name: j
      permissions: [{level: CAN_VIEW, user_name: bob@example.com},
                    {level: CAN_MANAGE_RUN, user_name: bob@example.com}]
"""}))
    assert r.plain()["resources"]["jobs"]["j"]["permissions"] == [
        {"level": "CAN_MANAGE_RUN", "user_name": "bob@example.com"},
        {"level": "IS_OWNER", "user_name": "alice@example.com"}]


def test_invalid_top_level_permission(bundle_dir) -> None:
    r = load(bundle_dir({"databricks.yml": "bundle: {name: x}\npermissions: [{level: IS_OWNER, user_name: a}]\n"}))
    assert summaries(r.diagnostics) == [
        "invalid permission level: IS_OWNER, allowed values: [CAN_MANAGE, CAN_VIEW, CAN_RUN]"]
