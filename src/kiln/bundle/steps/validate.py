"""The checks ``databricks bundle validate`` makes on the resolved configuration, in its
words. (What only deploy checks is in ``kiln.bundle.deploy_checks``.)

- jobs: a task's ``job_cluster_key`` (also of a ``for_each_task``'s task) names one of
  the job's ``job_clusters`` (a warning);
- a task that installs a local wheel or jar needs a cluster with DBR 13.1+ (new, job or
  bundle cluster), unless ``experimental.python_wheel_wrapper`` is on.
"""

from __future__ import annotations

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import get_str, maps_in, resources
from kiln.bundle.refs import REF, parse_ref_path
from kiln.bundle.state import Loading
from kiln.bundle.steps.translate_paths import is_remote


def validate(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    for key, job in resources(b.config, "jobs"):
        diags.extend(_job_cluster_keys(key, job))
    diags.extend(_local_libraries_need_dbr_13(b.config))
    return b, diags


def _local_libraries_need_dbr_13(config: Value) -> list[Diagnostic]:
    wrapper = config.get("experimental")
    wrapper = wrapper.get("python_wheel_wrapper") if wrapper is not None else None
    if wrapper is not None and wrapper.v is True:
        return []
    clusters = dict(resources(config, "clusters"))
    diags = []
    for _key, job in resources(config, "jobs"):
        job_clusters = {get_str(c, "job_cluster_key"): c.get("new_cluster")
                        for c in maps_in(job.get("job_clusters"))}
        for task in maps_in(job.get("tasks")):
            if not any(_is_local(lib.get(k)) for lib in maps_in(task.get("libraries"))
                       for k in ("whl", "jar")):
                continue
            tk = get_str(task, "task_key")
            version = get_str(task, "new_cluster", "spark_version")
            if version and _before_13_1(version):
                diags.append(_error(f"task {tk} uses cluster with incompatible DBR version {version}"))
                continue
            ck = get_str(task, "job_cluster_key")
            version = get_str(job_clusters.get(ck), "spark_version") if ck else None
            if version and _before_13_1(version):
                diags.append(_error(f"job cluster {ck} uses incompatible DBR version {version}"))
                continue
            m = REF.fullmatch(get_str(task, "existing_cluster_id") or "")
            parts = parse_ref_path(m.group(1)) if m else ()
            if parts[:2] == ("resources", "clusters") and len(parts) >= 3:
                version = get_str(clusters.get(str(parts[2])), "spark_version")
                if version and _before_13_1(version):
                    diags.append(_error(f"task {tk} uses cluster with incompatible DBR version "
                                        f"{version}"))
    if diags:
        diags.append(_error("Python wheel tasks require compute with DBR 13.3+ to include local "
                            "libraries. Please change your cluster configuration or use the "
                            "experimental 'python_wheel_wrapper' setting. See "
                            "https://docs.databricks.com/dev-tools/bundles/python-wheel.html "
                            "for more information."))
    return diags


def _is_local(v: Value | None) -> bool:
    return v is not None and isinstance(v.v, str) and bool(v.v) and not is_remote(v.v)


def _before_13_1(version: str) -> bool:
    parts = version.split(".")
    if len(parts) < 2:
        return False
    minor = "99" if parts[1][:1] == "x" else parts[1]
    if not (parts[0].isdigit() and minor.isdigit()):
        return False
    return (int(parts[0]), int(minor)) < (13, 1)


def _error(summary: str) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary)


def _job_cluster_keys(key: str, job: Value) -> list[Diagnostic]:
    defined = {get_str(c, "job_cluster_key") for c in maps_in(job.get("job_clusters"))}
    diags = []
    for i, task in enumerate(maps_in(job.get("tasks"))):
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

