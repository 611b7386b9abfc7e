"""Which tasks of a run may start, and what happens to those that may not. Pure.

A dependency counts as *succeeded* when its result is SUCCESS (and, for a condition task
named with ``outcome``, when the condition evaluated to that outcome), *failed* when its
result is FAILED, TIMEDOUT, CANCELED or UPSTREAM_FAILED, and *excluded* otherwise (an
excluded task, or a condition whose outcome did not match). ``run_if`` decides:

=====================  ==========================================================
ALL_SUCCESS (default)  run if all succeeded; UPSTREAM_FAILED if any failed; else EXCLUDED
AT_LEAST_ONE_SUCCESS   run if any succeeded; UPSTREAM_FAILED if any failed; else EXCLUDED
NONE_FAILED            UPSTREAM_FAILED if any failed; run if any succeeded; else EXCLUDED
ALL_DONE               run
AT_LEAST_ONE_FAILED    run if any failed; else EXCLUDED
ALL_FAILED             run if all failed; else EXCLUDED
=====================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.jobs.states import EXCLUDED, FAILURES, SUCCESS, UPSTREAM_FAILED


@dataclass(frozen=True)
class Result:
    result_state: str
    outcome: str | None = None  # "true"/"false" for condition tasks


def dependency_status(dep: dict[str, Any], result: Result) -> str:
    if result.result_state in FAILURES:
        return "failed"
    if result.result_state != SUCCESS:
        return "excluded"
    wanted = dep.get("outcome")
    if wanted is not None and result.outcome != wanted:
        return "excluded"
    return "succeeded"


def decide(task: dict[str, Any], results: dict[str, Result]) -> str | None:
    """"run", a terminal result state (UPSTREAM_FAILED, EXCLUDED), or None (not yet)."""
    deps = task.get("depends_on") or []
    if any(d["task_key"] not in results for d in deps):
        return None
    if not deps:
        return "run"
    statuses = [dependency_status(d, results[d["task_key"]]) for d in deps]
    failed = statuses.count("failed")
    succeeded = statuses.count("succeeded")
    rule = task.get("run_if") or "ALL_SUCCESS"
    if rule == "ALL_DONE":
        return "run"
    if rule == "ALL_SUCCESS":
        return UPSTREAM_FAILED if failed else ("run" if succeeded == len(deps) else EXCLUDED)
    if rule == "AT_LEAST_ONE_SUCCESS":
        return "run" if succeeded else (UPSTREAM_FAILED if failed else EXCLUDED)
    if rule == "NONE_FAILED":
        return UPSTREAM_FAILED if failed else ("run" if succeeded else EXCLUDED)
    if rule == "AT_LEAST_ONE_FAILED":
        return "run" if failed else EXCLUDED
    if rule == "ALL_FAILED":
        return "run" if failed == len(deps) else EXCLUDED
    raise ValueError(f"unknown run_if: {rule}")


def in_order(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks in the order they can run (each after what it depends on), ties in the
    job's order; tasks in a cycle (or on unknown keys) keep their place at the end."""
    keys = [t["task_key"] for t in tasks]
    by_key = {t["task_key"]: t for t in tasks}
    placed: list[str] = []
    done: set[str] = set()
    progress = True
    while progress:
        progress = False
        for key in keys:
            if key in done:
                continue
            deps = [d["task_key"] for d in by_key[key].get("depends_on") or []]
            if all(d in done for d in deps):
                placed.append(key)
                done.add(key)
                progress = True
                break  # start again from the first: ties go in the job's order
    placed += [k for k in keys if k not in done]
    return [by_key[k] for k in placed]


def settle(tasks: dict[str, dict[str, Any]], results: dict[str, Result],
           running: set[str] | frozenset[str] = frozenset()
           ) -> tuple[list[str], dict[str, str]]:
    """What can happen now: the tasks to start, and the tasks decided without running
    (key -> UPSTREAM_FAILED or EXCLUDED). Decisions are made until nothing changes, so a
    failure reaches every transitive dependant whatever order the keys are in."""
    known = dict(results)
    start: list[str] = []
    skipped: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for key, task in tasks.items():
            if key in known or key in running or key in start:
                continue
            verdict = decide(task, known)
            if verdict is None:
                continue
            if verdict == "run" and not task.get("disabled"):
                start.append(key)
            else:
                state = EXCLUDED if task.get("disabled") else verdict
                known[key] = Result(state)
                skipped[key] = state
                changed = True
    return start, skipped


def run_result(results: dict[str, Result]) -> str:
    """The run's result: FAILED if a task failed or timed out, CANCELED, else SUCCESS."""
    states = {r.result_state for r in results.values()}
    if "CANCELED" in states:
        return "CANCELED"
    if states & {"FAILED", "TIMEDOUT", UPSTREAM_FAILED}:
        return "FAILED"
    return SUCCESS
