"""The checks ``databricks bundle validate`` makes on the resolved configuration, in its
words. (What only deploy checks is in ``kiln.bundle.deploy_checks``.)

- jobs: a task's ``job_cluster_key`` (also of a ``for_each_task``'s task) names one of
  the job's ``job_clusters`` (a warning).
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import get_str, resources
from kiln.bundle.state import Loading


def validate(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    for key, job in resources(b.config, "jobs"):
        diags.extend(_job_cluster_keys(key, job))
    return b, diags


def _job_cluster_keys(key: str, job: Value) -> list[Diagnostic]:
    defined = {get_str(c, "job_cluster_key") for c in _maps(job.get("job_clusters"))}
    diags = []
    for i, task in enumerate(_maps(job.get("tasks"))):
        inner = task.get("for_each_task")
        nested = inner.get("task") if inner is not None and inner.is_map else None
        for t, path in ((task, ("resources", "jobs", key, "tasks", i)),
                        (nested, ("resources", "jobs", key, "tasks", i, "for_each_task", "task"))):
            ck = t.get("job_cluster_key") if t is not None and t.is_map else None
            if ck is None or not isinstance(ck.v, str) or not ck.v or ck.v in defined:
                continue
            diags.append(Diagnostic(Severity.WARNING, f"job_cluster_key {ck.v} is not defined",
                                    locations=(ck.loc,), paths=(path + ("job_cluster_key",),)))
    return diags


def _maps(v: Value | None) -> list[Value]:
    return [x for x in v.v if x.is_map] if v is not None and v.is_seq else []
