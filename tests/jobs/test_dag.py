"""run_if and condition outcomes decide which tasks run."""

from __future__ import annotations

import pytest

from kiln.jobs.dag import Result, decide, run_result

OK, BAD, EXC = Result("SUCCESS"), Result("FAILED"), Result("EXCLUDED")


def task(run_if: str | None = None, *deps: str, outcome: str | None = None) -> dict:
    return {"task_key": "t", "run_if": run_if,
            "depends_on": [{"task_key": d, **({"outcome": outcome} if outcome else {})}
                           for d in deps]}


@pytest.mark.parametrize("run_if,results,expected", [
    (None, {"a": OK, "b": OK}, "run"),
    (None, {"a": OK, "b": BAD}, "UPSTREAM_FAILED"),
    (None, {"a": OK, "b": EXC}, "EXCLUDED"),
    ("ALL_SUCCESS", {"a": Result("TIMEDOUT"), "b": OK}, "UPSTREAM_FAILED"),
    ("AT_LEAST_ONE_SUCCESS", {"a": OK, "b": BAD}, "run"),
    ("AT_LEAST_ONE_SUCCESS", {"a": BAD, "b": BAD}, "UPSTREAM_FAILED"),
    ("AT_LEAST_ONE_SUCCESS", {"a": EXC, "b": EXC}, "EXCLUDED"),
    ("NONE_FAILED", {"a": OK, "b": EXC}, "run"),
    ("NONE_FAILED", {"a": OK, "b": Result("UPSTREAM_FAILED")}, "UPSTREAM_FAILED"),
    ("NONE_FAILED", {"a": EXC, "b": EXC}, "EXCLUDED"),
    ("ALL_DONE", {"a": BAD, "b": EXC}, "run"),
    ("AT_LEAST_ONE_FAILED", {"a": OK, "b": BAD}, "run"),
    ("AT_LEAST_ONE_FAILED", {"a": OK, "b": OK}, "EXCLUDED"),
    ("ALL_FAILED", {"a": BAD, "b": Result("CANCELED")}, "run"),
    ("ALL_FAILED", {"a": BAD, "b": OK}, "EXCLUDED"),
])
def test_run_if(run_if, results, expected) -> None:
    assert decide(task(run_if, "a", "b"), results) == expected


def test_waits_for_dependencies() -> None:
    assert decide(task(None, "a", "b"), {"a": OK}) is None
    assert decide({"task_key": "root"}, {}) == "run"


def test_condition_outcomes() -> None:
    yes = {"c": Result("SUCCESS", outcome="true")}
    no = {"c": Result("SUCCESS", outcome="false")}
    assert decide(task(None, "c", outcome="true"), yes) == "run"
    assert decide(task(None, "c", outcome="true"), no) == "EXCLUDED"
    assert decide(task(None, "c", outcome="false"), no) == "run"


def test_run_result() -> None:
    assert run_result({"a": OK, "b": EXC}) == "SUCCESS"
    assert run_result({"a": OK, "b": Result("UPSTREAM_FAILED")}) == "FAILED"
    assert run_result({"a": Result("TIMEDOUT")}) == "FAILED"
    assert run_result({"a": Result("CANCELED"), "b": BAD}) == "CANCELED"


# every run ends with every task in a final state, whatever the DAG, names and failures
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from kiln.jobs.dag import settle  # noqa: E402

RULES = [None, "ALL_SUCCESS", "AT_LEAST_ONE_SUCCESS", "NONE_FAILED", "ALL_DONE",
         "AT_LEAST_ONE_FAILED", "ALL_FAILED"]


@st.composite
def dags(draw):  # type: ignore[no-untyped-def]
    names = draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6),
                          min_size=1, max_size=12, unique=True))
    order = draw(st.permutations(names))  # the key order is not the dependency order
    tasks = {}
    for i, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
        tasks[name] = {"task_key": name, "run_if": draw(st.sampled_from(RULES)),
                       "depends_on": [{"task_key": d} for d in deps]}
    failing = draw(st.sets(st.sampled_from(names)))
    return {k: tasks[k] for k in order}, failing


@settings(max_examples=300, deadline=None)
@given(dags())
def test_every_task_ends_in_a_final_state(dag) -> None:  # type: ignore[no-untyped-def]
    tasks, failing = dag
    results: dict[str, Result] = {}
    while len(results) < len(tasks):
        start, skipped = settle(tasks, results)
        results.update({k: Result(v) for k, v in skipped.items()})
        assert start or skipped, f"stuck with {set(tasks) - set(results)} undecided"
        for key in start:  # run what may run: it fails if it is one of the failing ones
            results[key] = Result("FAILED" if key in failing else "SUCCESS")
    ran_and_failed = {k for k, r in results.items() if r.result_state == "FAILED"}
    if ran_and_failed:
        assert run_result(results) == "FAILED"
    # a failure reaches every transitive dependant that only runs on success
    for key, task in tasks.items():
        if (task["run_if"] or "ALL_SUCCESS") == "ALL_SUCCESS" and any(
                results[d["task_key"]].result_state in ("FAILED", "UPSTREAM_FAILED")
                for d in task["depends_on"]):
            assert results[key].result_state == "UPSTREAM_FAILED"


def test_a_failure_two_levels_up_in_reverse_key_order() -> None:
    tasks = {"a_third": {"task_key": "a_third", "depends_on": [{"task_key": "m_second"}]},
             "m_second": {"task_key": "m_second", "depends_on": [{"task_key": "z_first"}]},
             "z_first": {"task_key": "z_first", "depends_on": []}}
    start, skipped = settle(tasks, {})
    assert start == ["z_first"] and skipped == {}
    start, skipped = settle(tasks, {"z_first": Result("FAILED")})
    assert start == [] and skipped == {"m_second": "UPSTREAM_FAILED",
                                       "a_third": "UPSTREAM_FAILED"}


def test_tasks_are_listed_in_the_order_they_run() -> None:
    from kiln.jobs.dag import in_order

    tasks = [{"task_key": k, "depends_on": [{"task_key": d} for d in deps]}
             for k, deps in [("ModelDeployment", ["ModelValidation"]),
                             ("ModelValidation", ["Train"]), ("Train", []),
                             ("Report", []), ("Cleanup", ["ModelDeployment", "Report"])]]
    assert [t["task_key"] for t in in_order(tasks)] == \
        ["Train", "ModelValidation", "ModelDeployment", "Report", "Cleanup"]
