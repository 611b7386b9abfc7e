"""``presets``: name prefix, tags, trigger pause status (jobs paused; monitors lose their
schedules, which cannot pause), job concurrency, dev pipelines.

Jobs, pipelines, clusters, experiments and legacy models get the prefix as written; the
Unity Catalog names (schemas, registered models) and serving endpoints get it normalized
(``[dev alice] `` → ``dev_alice_``). Tags merge into each resource's tags without
overriding tags the resource already has.
"""

from __future__ import annotations

import re

from kiln.diag import Diagnostic
from kiln.bundle.dyn.value import Value, get_path
from kiln.bundle.edit import edit_field, edit_resources, get_str, set_default, with_field
from kiln.bundle.state import Loading

_RAW_PREFIX = ("jobs", "pipelines", "models")
_UC_PREFIX = ("schemas", "registered_models", "model_serving_endpoints")


def normalize_prefix(prefix: str) -> str:
    """A name prefix made safe for Unity Catalog and endpoint names."""
    core = re.sub(r"[^a-z0-9]+", "_", prefix.lower()).strip("_")
    return core + "_" if core else ""


def apply_presets(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    presets = b.config.get("presets")
    if presets is None or not presets.is_map:
        return b, []
    config = b.config
    prefix = get_str(presets, "name_prefix") or ""
    tags_v = presets.get("tags")
    tags: dict[str, Value] = tags_v.v if tags_v is not None and tags_v.is_map else {}
    pause = get_str(presets, "trigger_pause_status")
    max_runs = presets.get("jobs_max_concurrent_runs")
    dev_pipelines = presets.get("pipelines_development")

    if prefix:
        for rtype in _RAW_PREFIX:
            config = edit_resources(config, rtype, lambda _k, r: _prefix(r, "name", prefix))
        config = edit_resources(config, "clusters", lambda _k, r: _prefix(r, "cluster_name", prefix))
        config = edit_resources(config, "experiments", lambda _k, r: _prefix_basename(r, prefix))
        uc = normalize_prefix(prefix)
        skip = get_path(config, ("experimental", "skip_name_prefix_for_schema"))
        for rtype in _UC_PREFIX:
            if rtype == "schemas" and skip is not None and skip.v is True:
                continue  # experimental.skip_name_prefix_for_schema: schemas keep their names
            config = edit_resources(config, rtype, lambda _k, r: _prefix(r, "name", uc))

    if tags:
        config = edit_resources(config, "jobs", lambda _k, r: _merge_map_tags(r, "tags", tags))
        config = edit_resources(config, "pipelines", lambda _k, r: _merge_map_tags(r, "tags", tags))
        config = edit_resources(config, "clusters",
                                lambda _k, r: _merge_map_tags(r, "custom_tags", tags))
        for rtype in ("experiments", "models"):  # as the CLI: not serving endpoints
            config = edit_resources(config, rtype, lambda _k, r: _merge_list_tags(r, tags))

    if pause or max_runs is not None:
        def job(_k: str, r: Value) -> Value:
            if pause:
                for key in ("schedule", "trigger", "continuous"):
                    r = edit_field(r, key, lambda s: set_default(s, "pause_status", pause))
            if max_runs is not None and not max_runs.is_nil:
                r = set_default(r, "max_concurrent_runs", max_runs.v)
            return r
        config = edit_resources(config, "jobs", job)
    if pause == "PAUSED":
        # monitor schedules cannot be paused: a paused target has none, unless a
        # monitor's schedule says UNPAUSED itself
        def monitor(_k: str, r: Value) -> Value:
            sched = r.get("schedule")
            if sched is None or get_str(sched, "pause_status") == "UNPAUSED":
                return r
            return Value({k: v for k, v in r.v.items() if k != "schedule"}, r.loc, r.kloc)
        config = edit_resources(config, "quality_monitors", monitor)
    if dev_pipelines is not None and dev_pipelines.v is True:
        config = edit_resources(config, "pipelines",
                                lambda _k, r: set_default(r, "development", True))
    return b.with_config(config), []


def _prefix(r: Value, key: str, prefix: str) -> Value:
    cur = r.get(key)
    if cur is None or not isinstance(cur.v, str) or cur.v.startswith(prefix):
        return r
    return with_field(r, key, cur.with_v(prefix + cur.v))


def _prefix_basename(r: Value, prefix: str) -> Value:
    cur = r.get("name")
    if cur is None or not isinstance(cur.v, str):
        return r
    head, sep, base = cur.v.rpartition("/")
    if base.startswith(prefix):
        return r
    return with_field(r, "name", cur.with_v(head + sep + prefix + base))


def _merge_map_tags(r: Value, key: str, tags: dict[str, Value]) -> Value:
    cur = r.get(key)
    have = cur.v if cur is not None and cur.is_map else {}
    new = {**{k: v for k, v in tags.items() if k not in have}, **have}
    if len(new) == len(have):
        return r
    return with_field(r, key, Value(new, cur.loc if cur else r.loc))


def _merge_list_tags(r: Value, tags: dict[str, Value]) -> Value:
    cur = r.get("tags")
    have = list(cur.v) if cur is not None and cur.is_seq else []
    keys = {get_str(t, "key") for t in have}
    add = [Value({"key": Value(k), "value": v}) for k, v in tags.items() if k not in keys]
    if not add:
        return r
    return with_field(r, "tags", Value(have + add, cur.loc if cur else r.loc))
