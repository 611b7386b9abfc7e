"""The defaults the Databricks CLI fills in, so the resolved tree says what will deploy.

Jobs: ``name`` "Untitled" (before presets prefix it), ``max_concurrent_runs`` 1,
``queue.enabled`` true, ``UNPAUSED`` schedules and triggers where the pause status is
still unset; a job cluster's ``workload_type.clients`` (where set) allow notebooks and
jobs. Pipelines: edition ADVANCED, channel CURRENT. Volumes: MANAGED.
Clusters: ``autotermination_minutes`` 60. Dashboards, Genie spaces and alerts: the
workspace's ``resource_path`` as parent. SQL warehouses and apps: the CLI's defaults.

``sync.paths`` is the bundle root (``.``) unless set.

Cluster specs are then fixed up as the CLI (and the Terraform provider before it) does:
with an ``instance_pool_id`` the node types and cloud attributes the pool decides are
dropped, without one the driver's pool is; a job cluster without ``autoscale`` states its
``num_workers`` (0 when unset).
"""

from __future__ import annotations

import posixpath

from kiln.diag import Diagnostic
from kiln.bundle.dyn.value import Value
from kiln.bundle.edit import edit_each, edit_field, edit_resources, get_str, set_default, with_field
from kiln.bundle.state import Loading


def default_names(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    config = edit_resources(b.config, "jobs", lambda _k, r: set_default(r, "name", "Untitled"))
    return b.with_config(config), []


def default_settings(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    resource_path = get_str(b.config, "workspace", "resource_path") or ""

    def job(_k: str, r: Value) -> Value:
        r = set_default(r, "max_concurrent_runs", 1)
        r = set_default(r, "queue", {"enabled": True})
        for key in ("schedule", "trigger", "continuous"):
            r = edit_field(r, key, lambda s: set_default(s, "pause_status", "UNPAUSED"))
        r = edit_each(r, "tasks", lambda t, _: edit_field(t, "new_cluster", _pool_fixup))
        return edit_each(r, "job_clusters", lambda c, _: edit_field(c, "new_cluster", _job_cluster))

    def pipeline(_k: str, r: Value) -> Value:
        r = set_default(r, "edition", "ADVANCED")
        return set_default(r, "channel", "CURRENT")

    def cluster(_k: str, r: Value) -> Value:
        r = set_default(r, "autotermination_minutes", 60)
        return _pool_fixup(_clients(r))

    config = edit_resources(b.config, "jobs", job)
    config = edit_resources(config, "pipelines", pipeline)
    config = edit_resources(config, "clusters", cluster)
    config = edit_resources(config, "volumes", lambda _k, r: set_default(r, "volume_type", "MANAGED"))
    config = edit_resources(config, "apps", lambda _k, r: set_default(r, "description", ""))
    config = edit_resources(config, "sql_warehouses", lambda _k, r: _defaults(r, {
        "auto_stop_mins": 120, "enable_photon": True, "max_num_clusters": 1,
        "spot_instance_policy": "COST_OPTIMIZED"}))
    config = edit_resources(config, "dashboards", lambda _k, r: _under_workspace(_defaults(r, {
        "parent_path": resource_path, "embed_credentials": False})))
    config = edit_resources(config, "genie_spaces", lambda _k, r: _under_workspace(
        set_default(r, "parent_path", resource_path)))
    config = edit_resources(config, "alerts",
                            lambda _k, r: set_default(r, "parent_path", resource_path))
    sync = config.get("sync")
    if sync is None or (sync.is_map and "paths" not in sync.v):  # null or [] are choices
        config = with_field(config, "sync", with_field(sync if sync is not None else Value({}),
                                                       "paths", ["."]))
    return b.with_config(config), []


def _under_workspace(r: Value) -> Value:
    """A dashboard's or Genie space's parent path lies under ``/Workspace``."""
    cur = r.get("parent_path")
    if cur is None or not isinstance(cur.v, str):
        return r
    p = cur.v
    if p == "/Workspace" or p.startswith("/Workspace/"):
        return r
    return with_field(r, "parent_path", cur.with_v(posixpath.normpath("/Workspace/" + p)))


def _defaults(r: Value, values: dict[str, object]) -> Value:
    for key, value in values.items():
        r = set_default(r, key, value)
    return r


def _clients(spec: Value) -> Value:
    """``workload_type.clients`` allows notebooks and jobs unless it says otherwise."""
    if not spec.is_map:
        return spec
    return edit_field(spec, "workload_type", lambda w: edit_field(
        w, "clients", lambda c: _defaults(c, {"notebooks": True, "jobs": True})))


def _job_cluster(spec: Value) -> Value:
    if not spec.is_map:  # a reference left for deploy
        return spec
    spec = _pool_fixup(_clients(spec))
    if spec.get("autoscale") is None and spec.get("num_workers") is None:
        spec = with_field(spec, "num_workers", 0)
    return spec


def _pool_fixup(spec: Value) -> Value:
    if not spec.is_map:
        return spec
    pool = spec.get("instance_pool_id")
    if pool is None or pool.v in (None, ""):
        return _without(spec, ("driver_instance_pool_id",))
    kept = {"aws_attributes": ("instance_profile_arn",), "azure_attributes": (),
            "gcp_attributes": ("google_service_account",)}
    for key, keep in kept.items():
        spec = edit_field(spec, key, lambda a, keep=keep: Value(
            {k: v for k, v in a.v.items() if k in keep} if a.is_map else a.v, a.loc, a.kloc))
    return _without(spec, ("enable_elastic_disk", "node_type_id", "driver_node_type_id"))


def _without(spec: Value, keys: tuple[str, ...]) -> Value:
    if not any(k in spec.v for k in keys):
        return spec
    return Value({k: v for k, v in spec.v.items() if k not in keys}, spec.loc, spec.kloc)


def annotate_deployment(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    """The last step, as the CLI's: jobs and pipelines carry the bundle ``deployment``
    marker (where the deploy's metadata lives); jobs are UI_LOCKED and MULTI_TASK."""
    state_path = get_str(b.config, "workspace", "state_path") or ""
    deployment = {"kind": "BUNDLE", "metadata_file_path": state_path + "/metadata.json"}

    def job(_k: str, r: Value) -> Value:
        r = with_field(r, "deployment", deployment)
        return with_field(with_field(r, "edit_mode", "UI_LOCKED"), "format", "MULTI_TASK")

    config = edit_resources(b.config, "jobs", job)
    config = edit_resources(config, "pipelines",
                            lambda _k, r: with_field(r, "deployment", deployment))
    return b.with_config(config), []
