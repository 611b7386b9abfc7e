"""``deploy`` and ``destroy``: the order of work and the guarantees around it.

Deploy: validate (the caller's bundle) → plan → lock → build artifacts → write-ahead state
record → upload artifacts → sync files → apply the plan → final state → unlock. Nothing in
the workspace changes before the builds succeed. Every object a deploy creates carries the
bundle's marker (``<state_path>#<type>.<key>``) in the same atomic write that creates it,
and the plan is always made against the objects carrying that marker, so a deploy killed
at any instant leaves a workspace the next deploy converges: no duplicate (the workspace
refuses a second object for one address) and no orphan (an object with the marker that
the bundle no longer wants is deleted).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiln.bundle import Bundle
from kiln.bundle.deploy_checks import deploy_checks
from kiln.bundle.dyn.value import to_plain
from kiln.diag import Diagnostic, has_errors
from kiln.deploy import refs
from kiln.deploy.artifacts import (
    Built,
    build_artifacts,
    destinations,
    local_libraries,
    rewrite_libraries,
    upload_artifacts,
)
from kiln.events import Event, Listener, ignore
from kiln.deploy.plan import Action, Plan, make_plan
from kiln.deploy.resources import Desired, desired_resources
from kiln.deploy.sync import SyncResult, local_files, sync_files
from kiln.errors import ConfigError, KilnError
from kiln.workspace import (
    AlreadyExists,
    DeployState,
    LockInfo,
    ObjectInfo,
    StateConflict,
    DeployTarget,
)

STATE_VERSION = 1


@dataclass(frozen=True)
class DeployOptions:
    force_lock: bool = False
    auto_approve: bool = False
    # Asked before destructive changes when not auto-approved; None means "cannot ask".
    confirm: Callable[[list[Action]], bool] | None = None


@dataclass
class DeployResult:
    plan: Plan
    sync: SyncResult | None = None
    deployed: dict[str, ObjectInfo] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        p = self.plan
        return {"created": p.count("create"), "changed": p.count("update", "recreate"),
                "deleted": p.count("delete"), "unchanged": p.count("skip")}


def state_id(tree: dict[str, Any]) -> str:
    ws = tree.get("workspace") or {}
    return str(ws.get("state_path") or ws.get("root_path"))


def bundle_ref(sid: str, address: str) -> str:
    return f"{sid}#{address}"


def deployed_objects(ws: DeployTarget, sid: str) -> dict[str, ObjectInfo]:
    """The objects this bundle target owns in the workspace, by address."""
    prefix = sid + "#"
    return {o.bundle_ref[len(prefix):]: o  # type: ignore[index]
            for o in ws.list(bundle_ref_prefix=prefix)}


def require_deployable(bundle: Bundle, also: list[Diagnostic] | None = None) -> None:
    """Raise ``ConfigError`` (with ``also`` first) when deploy's own checks find an error:
    what the Databricks APIs would refuse (``kiln.bundle.deploy_checks``) or what kiln's
    typed models cannot hold (a required field missing)."""
    checks = deploy_checks(bundle.tree)
    if has_errors(checks):
        raise ConfigError([*(also or []), *checks])
    bundle.config  # noqa: B018 - raises ConfigError with the typed models' diagnostics


def plan_for(bundle: Bundle, ws: DeployTarget) -> Plan:
    require_deployable(bundle)
    tree = bundle_tree(bundle)
    return make_plan(desired_resources(tree), deployed_objects(ws, state_id(tree)))


def bundle_tree(bundle: Bundle) -> dict[str, Any]:
    """A fresh plain tree of the bundle (new containers: callers may edit it)."""
    return to_plain(bundle.tree)


def deploy(bundle: Bundle, ws: DeployTarget, opts: DeployOptions = DeployOptions(),
           emit: Listener = ignore) -> DeployResult:
    require_deployable(bundle)
    tree = bundle_tree(bundle)
    sid = state_id(tree)
    root = bundle.root
    ws_cfg = tree["workspace"]
    lock = _lock(ws, tree, sid, opts)
    try:
        previous = ws.read_state(sid)
        if previous is not None and previous.data.get("pending"):
            p = previous.data["pending"]
            emit(Event("recovered", f"The previous deploy (started {p.get('started')} by "
                                    f"{p.get('user')}) did not finish; converging now."))
        # Builds and every check that can fail come before the first change.
        built = build_artifacts(root, tree.get("artifacts") or {}, emit)
        built += _local_libraries(root, tree)
        uploads = destinations(ws_cfg["artifact_path"], built)
        unmatched = rewrite_libraries(tree, uploads)
        if unmatched:
            raise KilnError("library " + ", ".join(sorted(set(unmatched)))
                            + " does not match any built or bundled file")
        files = local_files(root, tree.get("sync") or {})
        desired = desired_resources(tree)
        actual = deployed_objects(ws, sid)
        plan = make_plan(desired, actual)
        _approve(plan, opts)

        lineage = previous.lineage if previous else uuid.uuid4().hex
        serial = previous.serial if previous else 0
        base = dict(previous.data) if previous else {}
        pending = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "user": ws.current_user(),
                   "plan": [a.address for a in plan.changes()]}
        _write_state(ws, tree, DeployState(sid, lineage, serial + 1,
                                           {**base, "pending": pending}), applied=False)
        upload_artifacts(ws, root, uploads)

        emit(Event("uploading", f"Uploading bundle files to {ws_cfg['file_path']}..."))
        synced = sync_files(ws, root, ws_cfg["file_path"], files, base.get("files") or {})
        emit(Event("files", f"Files: {len(synced.uploaded)} uploaded, {len(synced.deleted)} deleted",
                   {"uploaded": synced.uploaded, "deleted": synced.deleted}))

        emit(Event("applying", "Deploying resources..."))
        _still_ours(ws, tree, sid, serial + 1)
        try:
            deployed = _apply(ws, sid, desired, plan, actual, emit)
        except AlreadyExists:
            _still_ours(ws, tree, sid, serial + 1, applied=True)
            raise

        data = {"version": STATE_VERSION, "bundle": bundle.name, "target": bundle.target,
                "resources": {a: o.id for a, o in sorted(deployed.items())},
                "files": synced.manifest, "pending": None,
                "deployed_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "user": ws.current_user()}
        _write_state(ws, tree, DeployState(sid, lineage, serial + 2, data), applied=True)
        ws.audit("bundle.deploy", sid, {"bundle": bundle.name, "target": bundle.target,
                                        "changes": [f"{a.op} {a.address}" for a in plan.changes()]})
        result = DeployResult(plan, synced, deployed)
        c = result.counts()
        emit(Event("complete", f"Resources: {c['created']} created, {c['changed']} changed, "
                               f"{c['deleted']} deleted, {c['unchanged']} unchanged", c))
        return result
    finally:
        if lock is not None:
            ws.release_lock(sid, lock.lock_id)


def destroy(bundle: Bundle, ws: DeployTarget, opts: DeployOptions = DeployOptions(),
            emit: Listener = ignore) -> Plan:
    tree = bundle_tree(bundle)
    sid = state_id(tree)
    lock = _lock(ws, tree, sid, opts)
    try:
        actual = deployed_objects(ws, sid)
        plan = make_plan({}, actual)
        _approve(plan, opts, "destroy")
        for action in plan.actions:
            _delete(ws, action.rtype, action.id)  # type: ignore[arg-type]
            emit(Event("deleted", f"Deleted {action.address}", {"address": action.address}))
        root_path = tree["workspace"]["root_path"]
        ws.delete_path(root_path, recursive=True)
        for key in ("file_path", "artifact_path", "resource_path", "state_path"):
            path = tree["workspace"].get(key)
            if path and not path.startswith(root_path.rstrip("/") + "/"):
                ws.delete_path(path, recursive=True)
        emit(Event("files", f"Deleted files under {root_path}"))
        ws.delete_state(sid)
        ws.audit("bundle.destroy", sid, {"bundle": bundle.name, "target": bundle.target,
                                         "deleted": [a.address for a in plan.actions]})
        emit(Event("complete", f"Destroy complete: {len(plan.actions)} resources deleted"))
        return plan
    finally:
        if lock is not None:
            ws.release_lock(sid, lock.lock_id)


# steps ---------------------------------------------------------------------------------

def _lock(ws: DeployTarget, tree: dict[str, Any], sid: str, opts: DeployOptions) -> LockInfo | None:
    lock_cfg = ((tree.get("bundle") or {}).get("deployment") or {}).get("lock") or {}
    if lock_cfg.get("enabled") is False:
        return None
    return ws.acquire_lock(sid, ws.current_user(), force=opts.force_lock or bool(lock_cfg.get("force")))


def _approve(plan: Plan, opts: DeployOptions, what: str = "this deploy") -> None:
    destructive = plan.destructive()
    if not destructive or opts.auto_approve:
        return
    listing = ", ".join(f"{a.op} {a.address}" for a in destructive)
    if opts.confirm is None:
        raise KilnError(f"{what} would {listing}; rerun with --auto-approve to confirm "
                        "(no terminal to ask on)")
    if not opts.confirm(destructive):
        raise KilnError(f"{what.split()[-1]} cancelled: destructive changes were not approved")


def _local_libraries(root: str, tree: dict[str, Any]) -> list[Built]:
    """Library files a task names that exist in the bundle (prebuilt wheels, jars)."""
    built_patterns = {pat for art in (tree.get("artifacts") or {}).values()
                      for pat in [(f or {}).get("source") for f in (art or {}).get("files") or []]
                      if pat}
    wanted = [p for _lib, _key, p in local_libraries(tree)]
    files: list[str] = []
    missing: list[str] = []
    for pattern in sorted(set(wanted)):
        hits = sorted(glob.glob(os.path.join(root, pattern)))
        if not hits and not any(fnmatch.fnmatch(pattern, b) for b in built_patterns):
            missing.append(pattern)
        files += [os.path.relpath(h, root) for h in hits]
    if missing:
        raise KilnError("library " + ", ".join(missing) + " does not match any file in the bundle",
                        detail="Build it with an entry under 'artifacts:' (a whl artifact is "
                               "built with 'python -m build --wheel'), or fix the path.")
    return [Built("libraries", sorted(set(files)))] if files else []


def _apply(ws: DeployTarget, sid: str, desired: dict[str, Desired], plan: Plan,
           actual: dict[str, ObjectInfo], emit: Listener) -> dict[str, ObjectInfo]:
    deployed = {a.address: actual[a.address] for a in plan.actions if a.op in ("skip", "update")}
    by_address = {a.address: a for a in plan.actions}
    for address in plan.order:
        action = by_address[address]
        d = desired[address]
        if action.op == "skip":
            continue
        settings = refs.resolve(d.settings, deployed)
        if action.op == "recreate":
            ws.delete(d.rtype, action.id)  # type: ignore[arg-type]
        if action.op in ("create", "recreate"):
            info = ws.create(d.rtype, d.name(settings), settings, bundle_ref(sid, address))
        else:
            info = ws.update(d.rtype, action.id, d.name(settings), settings)  # type: ignore[arg-type]
        deployed[address] = info
        verb = {"create": "Created", "update": "Updated", "recreate": "Recreated"}[action.op]
        emit(Event(action.op + "d" if action.op != "recreate" else "recreated",
                   f"{verb} {address}", {"address": address, "id": info.id}))
    for action in plan.actions:
        if action.op == "delete":
            _delete(ws, action.rtype, action.id)  # type: ignore[arg-type]
            emit(Event("deleted", f"Deleted {action.address}", {"address": action.address}))
    return deployed


def _delete(ws: DeployTarget, rtype: str, ident: str) -> None:
    """Delete a deployed object; catalog containers go with what they hold."""
    from kiln.workspace import Workspace

    if rtype in ("catalogs", "schemas", "volumes") and isinstance(ws, Workspace):
        from kiln.catalog import Catalog

        Catalog(ws).delete(rtype, ident)  # (a kiln server does this itself)
    else:
        ws.delete(rtype, ident)


def _write_state(ws: DeployTarget, tree: dict[str, Any], state: DeployState, applied: bool
                 ) -> None:
    """Record the deploy; a concurrent deploy that got there first is said plainly."""
    try:
        ws.write_state(state)
    except StateConflict:
        raise _lost(tree, applied) from None


def _still_ours(ws: DeployTarget, tree: dict[str, Any], sid: str, serial: int,
                applied: bool = False) -> None:
    """Stop if another deploy has written the state since this one did."""
    current = ws.read_state(sid)
    if current is not None and current.serial != serial:
        raise _lost(tree, applied)


def _lost(tree: dict[str, Any], applied: bool) -> KilnError:
    bundle = tree.get("bundle") or {}
    return KilnError(
        f"another deploy of bundle {bundle.get('name', '')} to target "
        f"{bundle.get('target', '')} finished while this one ran, and won: "
        + ("some of this deploy's changes were applied, but the state records the other "
           "deploy" if applied else "this deploy changed no resource"),
        detail="Run 'kiln bundle deploy' again to apply your bundle as it is now. Deploys "
               "to this target do not wait for each other because the deployment lock is "
               "off (the default in development mode); set "
               "bundle.deployment.lock.enabled: true to make them queue.")
