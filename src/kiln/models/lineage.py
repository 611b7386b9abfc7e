"""Lineage of tables and models: table version → job task (and MLflow run) → table
version or model version, from what task code read and wrote through ``kiln.tables`` and
what it logged to MLflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.catalog.names import parse_name
from kiln.errors import KilnError
from kiln.models.promotion import training_inputs
from kiln.models.registry import model_name, Registry
from kiln.workspace import LineageEntry


@dataclass(frozen=True)
class Edge:
    source: str  # "table cat.sch.t@3" or "model cat.sch.m v2"
    target: str
    via: str  # "job run 12 task train", "mlflow run abc…"


def lineage(reg: Registry, name: str) -> tuple[list[Edge], list[Edge]]:
    """(upstream, downstream) edges of a table or a registered model."""
    full = str(parse_name(name))
    if any(o.id == full for o in reg.ws.list("tables")):
        return _table(reg, full)
    try:
        reg.model(full)
    except KilnError:
        raise KilnError(f"{full} is neither a table nor a registered model in workspace "
                        f"{reg.ws.name}") from None
    return _model(reg, full)


def _table(reg: Registry, name: str) -> tuple[list[Edge], list[Edge]]:
    mine = reg.ws.lineage(entity=name)
    runs = sorted({e.job_run_id for e in mine if e.job_run_id is not None})
    related = reg.ws.lineage(job_run_ids=runs) if runs else []
    up: list[Edge] = []
    down: list[Edge] = []
    for w in (e for e in mine if e.op == "write"):
        for r in related:
            if r.op == "read" and _same_task(r, w):
                up.append(Edge(_table_ref(r), _table_ref(w), _via(w)))
    logged: dict[tuple[Any, ...], list[Any]] = {}  # many reads by one task: one search
    for rd in (e for e in mine if e.op == "read"):
        for w in related:
            if w.op == "write" and _same_task(w, rd) and w.entity != name:
                down.append(Edge(_table_ref(rd), _table_ref(w), _via(rd)))
        key = (rd.mlflow_run_id, rd.job_run_id, rd.task_key)
        if key not in logged:
            logged[key] = _versions_logged_by(reg, rd)
        for mv in logged[key]:
            down.append(Edge(_table_ref(rd), f"model {mv.name} v{mv.version}", _via(rd)))
    return _unique(up), _unique(down)


def _model(reg: Registry, name: str) -> tuple[list[Edge], list[Edge]]:
    up: list[Edge] = []
    down: list[Edge] = []
    for mv in reg.versions(name):
        target = f"model {mv.name} v{mv.version}"
        for e in training_inputs(reg, mv):
            up.append(Edge(_table_ref(e), target, _via(e) if e.job_run_id or e.mlflow_run_id
                           else "promotion"))
    for e in reg.ws.audit_log(limit=10000, target=name):
        if e["action"] == "models.promote_out":
            down.append(Edge(f"model {name} v{e['detail']['version']}", e["detail"]["to"],
                             "promotion"))
    down += _endpoints_serving(reg, model_name(name))
    return _unique(up), _unique(down)


def _endpoints_serving(reg: Registry, name: str) -> list[Edge]:
    """The serving endpoints whose config serves a version of the model (by number or by
    alias, as the alias points now)."""
    out = []
    for o in reg.ws.list("model_serving_endpoints"):
        for e in (o.settings.get("config") or {}).get("served_entities") or []:
            if not e.get("entity_name") or model_name(str(e["entity_name"])) != name:
                continue
            version = e.get("entity_version")
            if version is None and e.get("entity_alias"):
                held = reg.by_alias(name, str(e["entity_alias"]))
                version = held.version if held is not None else None
            if version is not None:
                out.append(Edge(f"model {name} v{version}", f"endpoint {o.name}", "serves"))
    return out


def _versions_logged_by(reg: Registry, e: LineageEntry) -> list[Any]:
    run_ids = {e.mlflow_run_id} if e.mlflow_run_id else set()
    if e.job_run_id is not None and e.task_key:
        run_ids |= set(reg.runs_of_task(e.job_run_id, e.task_key))
    return reg.versions_of_runs(sorted(run_ids))


def _same_task(a: LineageEntry, b: LineageEntry) -> bool:
    return a.job_run_id == b.job_run_id and a.task_key == b.task_key


def _table_ref(e: LineageEntry) -> str:
    return f"table {e.entity}@{e.version}" if e.version is not None else f"table {e.entity}"


def _via(e: LineageEntry) -> str:
    if e.job_run_id is not None:
        return f"job run {e.job_run_id} task {e.task_key}"
    return f"mlflow run {e.mlflow_run_id}" if e.mlflow_run_id else "direct"


def _unique(edges: list[Edge]) -> list[Edge]:
    return list(dict.fromkeys(edges))
