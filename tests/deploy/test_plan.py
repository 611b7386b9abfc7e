"""Plans are pure: desired resources and workspace objects in, typed actions out."""

from __future__ import annotations

from kiln.deploy.plan import creation_order, make_plan
from kiln.deploy.resources import desired_resources
from kiln.workspace import ObjectInfo


def tree(**resources):
    return {"resources": resources}


def obj(kind: str, id: str, settings: dict, name: str | None = None) -> ObjectInfo:
    return ObjectInfo(kind, id, name or settings.get("name", ""), settings)


def test_create_update_skip_delete() -> None:
    desired = desired_resources(tree(jobs={"a": {"name": "a"}, "b": {"name": "b2"},
                                           "new": {"name": "n"}}))
    actual = {"jobs.a": obj("jobs", "1", {"name": "a"}),
              "jobs.b": obj("jobs", "2", {"name": "b"}),
              "jobs.gone": obj("jobs", "3", {"name": "g"})}
    plan = make_plan(desired, actual)
    assert {a.address: a.op for a in plan.actions} == {
        "jobs.a": "skip", "jobs.b": "update", "jobs.new": "create", "jobs.gone": "delete"}
    assert plan.summary() == "Plan: 1 to add, 1 to change, 1 to delete, 1 unchanged"
    assert [a.address for a in plan.destructive()] == ["jobs.gone"]


def test_changing_a_key_field_recreates() -> None:
    desired = desired_resources(tree(schemas={"s": {"name": "ml", "catalog_name": "prod"}}))
    actual = {"schemas.s": obj("schemas", "dev.ml", {"name": "ml", "catalog_name": "dev"})}
    (action,) = make_plan(desired, actual).actions
    assert (action.op, action.reason) == ("recreate", "changed catalog_name")
    assert make_plan(desired, actual).summary() == "Plan: 1 to add, 0 to change, 1 to delete, 0 unchanged"


def test_references_resolve_against_deployed_ids() -> None:
    t = tree(jobs={"train": {"name": "train"},
                   "monitor": {"name": "m", "tasks": [{"task_key": "r", "run_job_task": {
                       "job_id": "${resources.jobs.train.id}"}}]}})
    desired = desired_resources(t)
    deployed = {"jobs.train": obj("jobs", "7", {"name": "train"}),
                "jobs.monitor": obj("jobs", "8", {"name": "m", "tasks": [
                    {"task_key": "r", "run_job_task": {"job_id": 7}}]})}
    assert {a.op for a in make_plan(desired, deployed).actions} == {"skip"}
    assert creation_order(desired) == ["jobs.train", "jobs.monitor"]


def test_containers_come_first() -> None:
    desired = desired_resources(tree(
        volumes={"v": {"name": "v", "catalog_name": "c", "schema_name": "s"}},
        schemas={"s": {"name": "s", "catalog_name": "c"}},
        catalogs={"c": {"name": "c"}}, jobs={"j": {"name": "j"}}))
    assert creation_order(desired) == ["catalogs.c", "schemas.s", "volumes.v", "jobs.j"]


def test_resource_types_kiln_skips_are_not_planned() -> None:
    desired = desired_resources(tree(pipelines={"p": {"name": "p"}}, jobs={"j": {"name": "j"}}))
    assert list(desired) == ["jobs.j"]
