"""Merge sequence elements that share a key, after target overrides concatenated them.

Job ``tasks`` by ``task_key`` (then sorted by it), ``job_clusters`` by
``job_cluster_key``, job ``parameters`` by ``name``, pipeline ``clusters`` by ``label``
(lower case, ``default`` when absent), and ``grants`` by ``principal`` (privileges
de-duplicated), so a target can override one task by repeating its key.

As in the Databricks CLI, an element without its key has the key "" (they merge into
one), and every merged element carries its key.
"""

from __future__ import annotations

from typing import Callable

from kiln.diag import Diagnostic
from kiln.bundle.dyn.value import Value
from kiln.bundle.merge import MergeError, merge
from kiln.bundle.state import Loading

_GRANTED = ("catalogs", "schemas", "volumes", "registered_models")


def merge_keyed(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    diags: list[Diagnostic] = []
    res = b.config.get("resources")
    if res is None or not res.is_map:
        return b, diags
    new_res = dict(res.v)
    jobs = res.get("jobs")
    if jobs is not None and jobs.is_map:
        new_jobs = {}
        for key, job in jobs.v.items():
            if job.is_map:
                path = ("resources", "jobs", key)
                job = _by_key(job, "tasks", "task_key", path, diags, sort=True)
                job = _by_key(job, "job_clusters", "job_cluster_key", path, diags)
                job = _by_key(job, "parameters", "name", path, diags)
            new_jobs[key] = job
        new_res["jobs"] = Value(new_jobs, jobs.loc, jobs.kloc)
    pipelines = res.get("pipelines")
    if pipelines is not None and pipelines.is_map:
        new_res["pipelines"] = Value(
            {key: _by_key(p, "clusters", "label", ("resources", "pipelines", key), diags,
                          name=_label) if p.is_map else p
             for key, p in pipelines.v.items()}, pipelines.loc, pipelines.kloc)
    for rtype in _GRANTED:
        group = res.get(rtype)
        if group is None or not group.is_map:
            continue
        new_group = {}
        for key, r in group.v.items():
            if r.is_map:
                r = _by_key(r, "grants", "principal", ("resources", rtype, key), diags)
                r = _dedupe_privileges(r)
            new_group[key] = r
        new_res[rtype] = Value(new_group, group.loc, group.kloc)
    config = Value({**b.config.v, "resources": Value(new_res, res.loc, res.kloc)},
                   b.config.loc, b.config.kloc)
    return b.with_config(config), diags


def _key_text(v: Value | None) -> str:
    return v.v if v is not None and isinstance(v.v, str) else ""


def _label(v: Value | None) -> str:
    return _key_text(v).lower() if v is not None and not v.is_nil else "default"


def _by_key(obj: Value, field: str, key: str, path: tuple, diags: list[Diagnostic],
            sort: bool = False, name: Callable[[Value | None], str] = _key_text) -> Value:
    seq = obj.get(field)
    if seq is None or not seq.is_seq:
        return obj
    merged: dict[str, Value] = {}
    for item in seq.v:
        k = name(item.get(key) if item.is_map else None)
        cur = merged.get(k)
        if cur is None:
            merged[k] = item
        else:
            try:
                merged[k] = merge(cur, item, path + (field,))
            except MergeError as e:
                diags.extend(e.diagnostics())
    keys = sorted(merged) if sort else list(merged)
    items = []
    for k in keys:
        item = merged[k]
        if item.is_map:
            old = item.get(key)
            loc = old.loc if old is not None else item.loc
            item = Value({**item.v, key: Value(k, loc)}, item.loc, item.kloc)
        items.append(item)
    return Value({**obj.v, field: Value(items, seq.loc, seq.kloc)}, obj.loc, obj.kloc)


def _dedupe_privileges(r: Value) -> Value:
    grants = r.get("grants")
    if grants is None or not grants.is_seq:
        return r
    out = []
    for g in grants.v:
        privs = g.get("privileges") if g.is_map else None
        if privs is not None and privs.is_seq:
            seen: set[object] = set()
            uniq = []
            for p in privs.v:
                if p.v not in seen:
                    seen.add(p.v)
                    uniq.append(p)
            g = Value({**g.v, "privileges": Value(uniq, privs.loc, privs.kloc)}, g.loc, g.kloc)
        out.append(g)
    return Value({**r.v, "grants": Value(out, grants.loc, grants.kloc)}, r.loc, r.kloc)
