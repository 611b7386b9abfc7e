"""Promotion across workspaces ("deploy model"): copy a model version from one
environment's registry into another's and move an alias there.

The copy is a new version in the target registry, made from a run in the target's
``/kiln/promotions`` experiment that holds the model's artifacts (signature and input
example included), the source run's metrics and params, and tags naming where it came
from. The rows are MLflow's own, written without importing MLflow
(``kiln.models.mlflow_db``), and the model's files are copied as they are. The source version's tags (validation, approval) and its lineage come along.
Promoting the same version again finds the earlier copy instead of making another.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from kiln.errors import KilnError, NotFound
from kiln.models.artifacts import on_disk
from kiln.models.registry import Registry, model_name
from kiln.models.store import artifact_root, store_uri
from kiln.workspace import LineageEntry

EXPERIMENT = "/kiln/promotions"
ORIGIN = "kiln.promoted_from"  # <workspace>:<model>:<version>


def promote(src: Registry, dst: Registry, name: str, version: int | str, *,
            to_name: str | None = None, alias: str = "champion", comment: str = "") -> Any:
    """Copy version ``version`` of ``name`` from ``src`` into ``dst`` (as ``to_name``) and
    point ``alias`` at the copy; the target's model version."""
    mv = src.version(name, version)
    target_name = model_name(to_name or mv.name)
    missing = dst.missing_approval(target_name, alias, mv)  # the target's gate
    if missing is not None:
        raise KilnError(
            f"workspace {dst.ws.name} requires an approval before @{alias} moves, and version "
            f"{mv.version} of {mv.name} in {src.ws.name} is {missing}; nothing was promoted",
            detail=f"kiln models request-approval {mv.name} --version {mv.version} -w "
                   f"{src.ws.name}, then kiln models approve ... once reviewed.")
    origin = f"{src.ws.name}:{mv.name}:{mv.version}"
    copy = _existing_copy(dst, target_name, origin) or _copy(src, dst, mv, target_name, origin)
    dst.set_alias(target_name, alias, copy.version,
                  reason=comment or f"promoted from {src.ws.name}", remove=("challenger",))
    dst.ws.audit("models.promote", target_name, {
        "version": str(copy.version), "from": origin, "alias": alias, "comment": comment})
    src.ws.audit("models.promote_out", mv.name, {
        "version": str(mv.version), "to": f"{dst.ws.name}:{target_name}:{copy.version}",
        "alias": alias})
    return dst.version(target_name, copy.version)


def _existing_copy(dst: Registry, name: str, origin: str) -> Any | None:
    try:
        versions = dst.versions(name)
    except KilnError:
        return None
    return next((v for v in versions if (v.tags or {}).get(ORIGIN) == origin), None)


def _copy(src: Registry, dst: Registry, mv: Any, target_name: str, origin: str) -> Any:
    try:
        source_run = src.run(mv.run_id) if mv.run_id else None
    except NotFound:  # the run was deleted
        source_run = None
    tags = {ORIGIN: origin, "mlflow.runName": f"promote {mv.name} v{mv.version}"}
    if source_run is not None:
        tags["kiln.source_run_id"] = source_run.info.run_id
        tags.update({k: v for k, v in source_run.data.tags.items()
                     if not k.startswith("mlflow.") and k not in tags})
    root = dst.ws.local_root() or ""
    exp = dst.db.experiment_id(EXPERIMENT, os.path.join(artifact_root(root), "promotions"))
    with tempfile.TemporaryDirectory(prefix="kiln-promote-") as tmp:
        files = _model_files(src, mv, tmp)
        run = dst.db.record_run(exp, dst.ws.current_user(), tags,
                                source_run.data.metrics if source_run else {},
                                source_run.data.params if source_run else {})
        model_dir = os.path.join(run.artifact_uri, "model")
        shutil.copytree(files, model_dir)
    _ensure_model(src, dst, mv.name, target_name)
    version_tags = {k: v for k, v in (mv.tags or {}).items()}
    version_tags[ORIGIN] = origin
    created = dst.db.create_version(target_name, model_dir, run.run_id, version_tags,
                                    mv.description or "", model_dir)
    _copy_lineage(src, dst, mv, run.run_id)
    return created


def _model_files(src: Registry, mv: Any, tmp: str) -> str:
    """The version's model directory: read in place from the source workspace's artifact
    store, or downloaded through MLflow when it is elsewhere."""
    local = on_disk(str(mv.storage_location or ""), src.root)
    if local and os.path.isdir(local):
        return local
    import mlflow.artifacts

    return str(mlflow.artifacts.download_artifacts(
        artifact_uri=src.client.get_model_version_download_uri(mv.name, mv.version),
        dst_path=tmp, tracking_uri=store_uri(src.ws.local_root() or "")))


def _ensure_model(src: Registry, dst: Registry, name: str, target_name: str) -> None:
    model = src.model(name)
    try:
        dst.model(target_name)
        return
    except KilnError:
        pass
    dst.db.create_model(target_name, model.description or "", dict(model.tags or {}))
    dst.ws.audit("registered_models.create", target_name, {"from": f"{src.ws.name}:{name}"})


def _copy_lineage(src: Registry, dst: Registry, mv: Any, run_id: str) -> None:
    """The tables the source version was trained on, named with their workspace."""
    for e in training_inputs(src, mv):
        dst.ws.record_lineage(LineageEntry(f"{src.ws.name}:{e.entity}", e.version, "read",
                                           None, None, run_id))


def training_inputs(reg: Registry, mv: Any) -> list[LineageEntry]:
    """Table versions read by the run that logged the version, or by the job task that
    started that run (a task may read its data before it starts the MLflow run)."""
    if not mv.run_id:
        return []
    try:
        run = reg.run(mv.run_id)
    except NotFound:  # the run was deleted
        return []
    job_run = run.data.tags.get("kiln.job_run_id")
    task = run.data.tags.get("kiln.task_key")
    entries = reg.ws.lineage(mlflow_run_ids=[mv.run_id],
                             job_run_ids=[int(job_run)] if job_run and job_run.isdigit()
                             else None)
    seen: set[tuple[str, str | None]] = set()
    out = []
    for e in entries:
        mine = e.mlflow_run_id == mv.run_id or (e.mlflow_run_id is None and e.task_key == task)
        if mine and e.op == "read" and (e.entity, e.version) not in seen:
            seen.add((e.entity, e.version))
            out.append(e)
    return out
