"""Permissions as the Databricks CLI resolves them.

1. The top-level ``permissions`` (levels CAN_MANAGE, CAN_VIEW, CAN_RUN) reach every
   resource that has permissions, in that resource type's own levels (a job's CAN_RUN is
   CAN_MANAGE_RUN, an experiment's CAN_VIEW is CAN_READ, ...). A principal the resource
   already names keeps its own entry, with a warning.
2. The deploying identity can always manage what it deploys: it becomes IS_OWNER of jobs,
   pipelines and SQL warehouses that have no owner (its CAN_MANAGE, if listed, is raised),
   and gets CAN_MANAGE elsewhere.
3. Each principal is listed once, at its highest level.
4. A top-level section that does not let the deploying identity manage the bundle is
   worth a recommendation.
"""

from __future__ import annotations

import re

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value, from_plain
from kiln.bundle.edit import get_str, maps_in
from kiln.bundle.state import Loading

CAN_MANAGE, CAN_VIEW, CAN_RUN = "CAN_MANAGE", "CAN_VIEW", "CAN_RUN"
_LEVELS = {
    "jobs": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_VIEW", CAN_RUN: "CAN_MANAGE_RUN"},
    "pipelines": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_VIEW", CAN_RUN: "CAN_RUN"},
    "experiments": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_READ"},
    "models": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_READ"},
    "model_serving_endpoints": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_VIEW",
                                CAN_RUN: "CAN_QUERY"},
    "dashboards": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_READ"},
    "genie_spaces": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_READ"},
    "apps": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_USE"},
    "secret_scopes": {CAN_MANAGE: "MANAGE", CAN_VIEW: "READ"},
    "alerts": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_READ", CAN_RUN: "CAN_RUN"},
    "sql_warehouses": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_VIEW", CAN_RUN: "CAN_MONITOR"},
    "database_instances": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_USE"},
    "postgres_projects": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_USE"},
    "clusters": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_ATTACH_TO", CAN_RUN: "CAN_RESTART"},
    "vector_search_endpoints": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_USE"},
    "instance_pools": {CAN_MANAGE: "CAN_MANAGE", CAN_VIEW: "CAN_ATTACH_TO"},
}
_HAS_OWNER = frozenset({"jobs", "pipelines", "sql_warehouses"})
_ORDER = ["CAN_VIEW", "CAN_READ", "CAN_VIEW_METADATA", "CAN_RUN", "CAN_QUERY", "CAN_USE",
          "CAN_EDIT", "CAN_EDIT_METADATA", "CAN_CREATE", "CAN_ATTACH_TO", "CAN_RESTART",
          "CAN_MONITOR", "CAN_MANAGE_RUN", "CAN_MANAGE_STAGING_VERSIONS",
          "CAN_MANAGE_PRODUCTION_VERSIONS", "CAN_MANAGE", "IS_OWNER"]
_SCORE = {level: i + 2 for i, level in enumerate(_ORDER)}
_PRINCIPALS = ("user_name", "service_principal_name", "group_name")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def apply_permissions(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    config = b.config
    top = [p for p in maps_in(config.get("permissions"))]
    allowed = (CAN_MANAGE, CAN_VIEW, CAN_RUN)
    for p in top:
        level = get_str(p, "level")
        if level not in allowed:
            return b, [Diagnostic(Severity.ERROR, f"invalid permission level: {level}, "
                                  f"allowed values: [{', '.join(allowed)}]", locations=(p.loc,))]
    me = get_str(config, "workspace", "current_user", "userName") or ""
    diags: list[Diagnostic] = []
    res = config.get("resources")
    if res is None or not res.is_map:
        return b, _recommendation(config, top, me)
    new_res = dict(res.v)
    for rtype, group in res.v.items():
        if not group.is_map:
            continue
        new_group = dict(group.v)
        for key, r in group.v.items():
            if not r.is_map:
                continue
            perms = [_plain(p) for p in maps_in(r.get("permissions"))]
            if rtype in _LEVELS:
                perms += _from_bundle(top, perms, rtype, diags)
            if rtype != "secret_scopes" and (perms or r.get("permissions") is not None):
                perms = _highest_each(_with_owner(perms, me, rtype))
            if perms:
                loc = r.get("permissions").loc if r.get("permissions") is not None else r.loc
                new_group[key] = Value({**r.v, "permissions": from_plain(perms, loc)}, r.loc, r.kloc)
        new_res[rtype] = Value(new_group, group.loc, group.kloc)
    config = Value({**config.v, "resources": Value(new_res, res.loc, res.kloc)},
                   config.loc, config.kloc)
    return b.with_config(config), diags + _recommendation(config, top, me)


def _from_bundle(top: list[Value], have: list[dict], rtype: str,
                 diags: list[Diagnostic]) -> list[dict]:
    out = []
    for p in top:
        level = _LEVELS[rtype].get(get_str(p, "level") or "")
        if level is None:
            continue
        q = _plain(p)
        overlap = False
        for r in have:
            for field, what in (("group_name", "group"), ("user_name", "user name"),
                                ("service_principal_name", "service principal name")):
                if r.get(field) and r.get(field) == q.get(field):
                    overlap = True
                    diags.append(Diagnostic(Severity.WARNING, f"'{rtype}' already has "
                                            f"permissions set for '{r[field]}' {what}"))
        if not overlap:
            out.append({"level": level, **{k: q[k] for k in _PRINCIPALS if q.get(k)}})
    return out


def _with_owner(perms: list[dict], me: str, rtype: str) -> list[dict]:
    add_owner = rtype in _HAS_OWNER
    manage_at = -1
    for i, p in enumerate(perms):
        user = p.get("user_name") or p.get("service_principal_name")
        if p.get("level") == "IS_OWNER":
            add_owner = False
            if user == me:
                return perms
        if user == me and p.get("level") == CAN_MANAGE:
            manage_at = i
    if add_owner:
        if manage_at >= 0:
            return [dict(p, level="IS_OWNER") if i == manage_at else p for i, p in enumerate(perms)]
        return perms + [_permission(me, "IS_OWNER")]
    return perms if manage_at >= 0 else perms + [_permission(me, CAN_MANAGE)]


def _highest_each(perms: list[dict]) -> list[dict]:
    best: dict[tuple[str, str], str] = {}
    for p in perms:
        level = p.get("level") or ""
        who = next(((k, p[k]) for k in _PRINCIPALS if p.get(k)), None)
        if not level or who is None:
            continue
        cur = best.get(who)
        best[who] = level if cur is None or _compare(level, cur) > 0 else cur
    return [{"level": level, who[0]: who[1]} for who, level in best.items()]


def _compare(a: str, b: str) -> int:
    sa, sb = _score(a), _score(b)
    return (a > b) - (a < b) if sa == sb else sa - sb


def _score(level: str) -> int:
    if level in _SCORE:
        return _SCORE[level]
    prefixes = [name for name in _SCORE if level.startswith(name)]
    return _SCORE[max(prefixes, key=len)] if prefixes else 0


def _permission(who: str, level: str) -> dict:
    field = "service_principal_name" if _UUID.match(who) else "user_name"
    return {"level": level, field: who}


def _recommendation(config: Value, top: list[Value], me: str) -> list[Diagnostic]:
    if not top:
        return []
    if any(get_str(p, "level") == CAN_MANAGE and me in (get_str(p, "user_name"),
                                                          get_str(p, "service_principal_name"))
           for p in top):
        return []
    field = "service_principal_name" if _UUID.match(me) else "user_name"
    section = config.get("permissions")
    return [Diagnostic(
        Severity.RECOMMENDATION,
        f"permissions section should explicitly include the current deployment identity "
        f"'{me}' or one of its groups\nIf it is not included, CAN_MANAGE permissions are "
        "only applied if the present identity is used to deploy.\n\nConsider using a adding "
        "a top-level permissions section such as the following:\n\n  permissions:\n"
        f"    - {field}: {me}\n      level: CAN_MANAGE\n\nSee "
        "https://docs.databricks.com/dev-tools/bundles/permissions.html to learn more about "
        "permission configuration.", locations=(section.loc,) if section is not None else ())]



def _plain(p: Value) -> dict:
    return {k: v.v for k, v in p.v.items() if not (v.is_map or v.is_seq)}
