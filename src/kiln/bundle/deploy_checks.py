"""What deploy checks before it changes anything, beyond what ``bundle validate`` reports.

The Databricks CLI validates these only when the Jobs and Serving APIs see them, at
deploy; ``kiln bundle validate`` keeps to the CLI's diagnostics, and kiln's deploy (and
plan) refuse a bundle with any of these errors before anything is written:

- jobs: each task has exactly one task type; ``depends_on`` names tasks of the same job,
  has no cycles, and uses ``outcome`` only after condition tasks; ``job_cluster_key`` and
  ``environment_key`` name clusters and environments of the job;
- serving endpoints: traffic routes add up to 100 and name served entities.
"""

from __future__ import annotations

import difflib

from kiln.diag import Diagnostic, Path, Severity
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import get_str, maps_in, resources
from kiln.bundle.kinds import TASK_TYPES
from kiln.cron import parse, zone
from kiln.errors import KilnError

_TASK_TYPE_SET = frozenset(TASK_TYPES)


def deploy_checks(config: Value) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for key, job in resources(config, "jobs"):
        diags.extend(_job(key, job))
    for key, ep in resources(config, "model_serving_endpoints"):
        diags.extend(_endpoint(key, ep))
    return diags


def _job(key: str, job: Value) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    base: Path = ("resources", "jobs", key)
    tasks_v = job.get("tasks")
    tasks = [t for t in tasks_v.v if t.is_map] if tasks_v is not None and tasks_v.is_seq else []
    clusters = {get_str(c, "job_cluster_key") for c in maps_in(job.get("job_clusters"))}
    envs = {get_str(e, "environment_key") for e in maps_in(job.get("environments"))}
    by_key: dict[str, Value] = {}
    for i, t in enumerate(tasks):
        tk = get_str(t, "task_key")
        if tk:
            by_key[tk] = t
        diags.extend(_task(t, base + ("tasks", i), clusters, envs))
    for i, t in enumerate(tasks):
        tk = get_str(t, "task_key") or ""
        for dep in maps_in(t.get("depends_on")):
            dk = get_str(dep, "task_key")
            if dk is None:
                continue
            p = base + ("tasks", i, "depends_on")
            if dk not in by_key:
                close = difflib.get_close_matches(dk, list(by_key), 1)
                diags.append(Diagnostic(
                    Severity.ERROR, f'task "{tk}" depends on "{dk}", which is not a task of this job',
                    f'Did you mean "{close[0]}"?' if close else "",
                    locations=(dep.loc,), paths=(p,)))
                continue
            if dep.get("outcome") is not None and by_key[dk].get("condition_task") is None:
                diags.append(Diagnostic(
                    Severity.ERROR,
                    f'task "{tk}" sets an outcome on "{dk}", which is not a condition task',
                    locations=(dep.v["outcome"].loc,), paths=(p,)))
    diags.extend(_schedule(job, base))
    cycle = _find_cycle(by_key)
    if cycle:
        diags.append(Diagnostic(Severity.ERROR,
                                "cycle in task dependencies: " + " -> ".join(cycle),
                                locations=(by_key[cycle[0]].loc,), paths=(base + ("tasks",),)))
    return diags


def _schedule(job: Value, base: Path) -> list[Diagnostic]:
    sched = job.get("schedule")
    if sched is None or not sched.is_map:
        return []
    diags = []
    for key, check in (("quartz_cron_expression", parse), ("timezone_id", zone)):
        value = sched.get(key)
        if value is None or not isinstance(value.v, str) or value.v.startswith("${"):
            continue
        try:
            check(value.v)
        except KilnError as e:
            diags.append(Diagnostic(Severity.ERROR, e.summary, locations=(value.loc,),
                                    paths=(base + ("schedule", key),)))
    return diags


def _task(t: Value, path: Path, clusters: set[str | None], envs: set[str | None]
          ) -> list[Diagnostic]:
    diags = []
    tk = get_str(t, "task_key")
    kinds = [k for k, v in t.v.items() if k in _TASK_TYPE_SET and v.v is not None]
    if not kinds:
        diags.append(Diagnostic(Severity.ERROR, f'task "{tk}" has no task type',
                                "Set one of: " + ", ".join(TASK_TYPES[:7]) + ", ...",
                                locations=(t.loc,), paths=(path,)))
    elif len(kinds) > 1:
        diags.append(Diagnostic(Severity.ERROR,
                                f'task "{tk}" has more than one task type: ' + ", ".join(kinds),
                                locations=(t.loc,), paths=(path,)))
    ck = t.get("job_cluster_key")
    if ck is not None and isinstance(ck.v, str) and ck.v not in clusters:
        diags.append(Diagnostic(Severity.ERROR,
                                f'job_cluster_key "{ck.v}" is not defined in the job\'s job_clusters',
                                locations=(ck.loc,), paths=(path + ("job_cluster_key",),)))
    ek = t.get("environment_key")
    if ek is not None and isinstance(ek.v, str) and ek.v not in envs:
        diags.append(Diagnostic(Severity.ERROR,
                                f'environment_key "{ek.v}" is not defined in the job\'s environments',
                                locations=(ek.loc,), paths=(path + ("environment_key",),)))
    inner = t.get("for_each_task")
    if inner is not None and inner.is_map and inner.get("task") is not None:
        it = inner.v["task"]
        if it.is_map:
            diags.extend(_task(it, path + ("for_each_task", "task"), clusters, envs))
    return diags


def _find_cycle(by_key: dict[str, Value]) -> list[str]:
    deps = {k: [get_str(d, "task_key") for d in maps_in(t.get("depends_on"))] for k, t in by_key.items()}
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(k: str) -> list[str]:
        color[k] = 1
        stack.append(k)
        for d in deps.get(k, []):
            if d is None or d not in deps:
                continue
            if color.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in color:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        color[k] = 2
        return []

    for k in sorted(deps):
        if k not in color:
            found = visit(k)
            if found:
                return found
    return []


def _endpoint(key: str, ep: Value) -> list[Diagnostic]:
    diags = []
    cfg = ep.get("config")
    if cfg is None or not cfg.is_map:
        return diags
    names = {get_str(e, "name") or _default_entity_name(e)
             for e in maps_in(cfg.get("served_entities")) + maps_in(cfg.get("served_models"))}
    tc = cfg.get("traffic_config")
    routes = maps_in(tc.get("routes")) if tc is not None and tc.is_map else []
    if not routes:
        return diags
    path = ("resources", "model_serving_endpoints", key, "config", "traffic_config", "routes")
    total = 0
    for r in routes:
        pct = r.get("traffic_percentage")
        if pct is not None and isinstance(pct.v, int):
            total += pct.v
        target = get_str(r, "served_entity_name") or get_str(r, "served_model_name")
        if target is not None and target not in names:
            diags.append(Diagnostic(Severity.ERROR,
                                    f'route names served entity "{target}", which the endpoint '
                                    "does not serve", locations=(r.loc,), paths=(path,)))
    if total != 100:
        diags.append(Diagnostic(Severity.ERROR,
                                f"traffic percentages of endpoint {key} add up to {total}, not 100",
                                locations=(tc.loc,), paths=(path,)))  # type: ignore[union-attr]
    return diags


def _default_entity_name(e: Value) -> str:
    name = get_str(e, "entity_name") or get_str(e, "model_name") or ""
    version = get_str(e, "entity_version") or get_str(e, "model_version") or ""
    return f"{name.split('.')[-1]}-{version}"

