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
