"""kiln's deploy API (``/api/2.0/kiln/...``): the workspace's objects, files, deploy
state and lock, one path per ``DeployTarget`` call, so that ``kiln bundle deploy`` to a
server target runs the same deployer as a local one (``kiln.workspace.remote`` is the
client). The Databricks CLI deploys through workspace files and each resource's API;
kiln's deployer needs its objects' bundle markers and an atomic state, hence its own paths.

Every call acts as the request's user. Jobs keep their permissions here too: a job you
may not see is not listed and does not exist for you, and changing or deleting one needs
CAN_MANAGE. Workspace paths are checked by the workspace (no ``.`` or ``..`` segments).
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any, Callable

from kiln.catalog.tables import Catalog
from kiln.errors import KilnError, NotFound
from kiln.jobs.service import JobsService
from kiln.server.http import Request, Router
from kiln.workspace import KINDS, DeployState, ObjectInfo, Workspace

BASE = "/api/2.0/kiln"


def add_routes(r: Router, ws_of: Callable[[Request], Workspace]) -> None:
    def kind_of(req: Request) -> str:
        kind = req.required("kind")
        if kind not in KINDS:
            raise KilnError(f"unknown object kind {kind!r}: one of {', '.join(KINDS)}")
        return kind

    def visible(req: Request, objs: list[ObjectInfo]) -> list[ObjectInfo]:
        jobs = JobsService(ws_of(req))
        return [o for o in objs if o.kind != "jobs" or jobs.may_see(o)]

    def get(req: Request) -> dict[str, Any]:
        kind, ident = kind_of(req), req.required("id")
        found = visible(req, [ws_of(req).get(kind, ident)])
        if not found:
            raise NotFound(f"{kind} {ident} does not exist")
        return asdict(found[0])

    def list_(req: Request) -> dict[str, Any]:
        kind = kind_of(req) if req.arg("kind") else None
        objs = ws_of(req).list(kind, bundle_ref_prefix=req.arg("bundle_ref_prefix"),
                               name=req.arg("name"))
        return {"objects": [asdict(o) for o in visible(req, objs)]}

    def create(req: Request) -> dict[str, Any]:
        return asdict(ws_of(req).create(kind_of(req), req.required("name"),
                                        req.required("settings", dict), req.arg("bundle_ref")))

    def managed(req: Request) -> tuple[Workspace, str, str]:
        ws, kind, ident = ws_of(req), kind_of(req), req.required("id")
        if kind == "jobs":
            JobsService(ws).require_manage(_job_id(ident))
        return ws, kind, ident

    def update(req: Request) -> dict[str, Any]:
        ws, kind, ident = managed(req)
        return asdict(ws.update(kind, ident, req.required("name"), req.required("settings", dict)))

    def delete(req: Request) -> dict[str, Any]:
        ws, kind, ident = managed(req)
        if kind in ("catalogs", "schemas", "volumes"):  # with everything they hold
            Catalog(ws).delete(kind, ident)
        else:
            ws.delete(kind, ident)
        return {}

    r.add("GET", BASE + "/objects/get", get)
    r.add("GET", BASE + "/objects/list", list_)
    r.add("POST", BASE + "/objects/create", create)
    r.add("POST", BASE + "/objects/update", update)
    r.add("POST", BASE + "/objects/delete", delete)

    def volume_checked(req: Request, write: bool) -> Workspace:
        """The workspace, once a volume path's privilege is checked (READ/WRITE_VOLUME)."""
        ws = ws_of(req)
        Catalog(ws).require_path(req.required("path"), write)
        return ws

    def write(req: Request) -> dict[str, Any]:
        try:
            content = base64.b64decode(req.required("content"), validate=True)
        except ValueError:
            raise KilnError("content must be base64") from None
        ws = volume_checked(req, write=True)
        ws.write(req.required("path"), content)
        return {}

    r.add("POST", BASE + "/files/write", write)
    r.add("GET", BASE + "/files/read", lambda req: {
        "content": base64.b64encode(volume_checked(req, False).read(
            req.required("path"))).decode()})
    r.add("POST", BASE + "/files/delete", lambda req: volume_checked(req, True).delete_path(
        req.required("path"), req.arg("recursive", False, bool)))
    r.add("GET", BASE + "/files/list-all", lambda req: {
        "files": ws_of(req).list_files(req.required("path"))})
    r.add("POST", BASE + "/files/mkdirs", lambda req: ws_of(req).mkdirs(req.required("path")))
    r.add("GET", BASE + "/files/kind", lambda req: {
        "kind": ws_of(req).path_kind(req.required("path"))})
    r.add("GET", BASE + "/files/list-dir", lambda req: {
        "entries": [{"name": n, "is_dir": d} for n, d in ws_of(req).list_dir(req.required("path"))]})

    def read_state(req: Request) -> dict[str, Any]:
        state = ws_of(req).read_state(req.required("state_id"))
        return {"state": asdict(state) if state is not None else None}

    def write_state(req: Request) -> dict[str, Any]:
        doc = req.required("state", dict)
        try:
            state = DeployState(str(doc["state_id"]), str(doc["lineage"]), int(doc["serial"]),
                                dict(doc.get("data") or {}))
        except (KeyError, TypeError, ValueError):
            raise KilnError("state needs state_id, lineage, serial and data") from None
        ws_of(req).write_state(state)
        return {}

    r.add("POST", BASE + "/deploy/lock", lambda req: asdict(ws_of(req).acquire_lock(
        req.required("state_id"), req.required("holder"), force=req.arg("force", False, bool))))
    r.add("POST", BASE + "/deploy/unlock", lambda req: ws_of(req).release_lock(
        req.required("state_id"), req.required("lock_id")))
    r.add("GET", BASE + "/deploy/state", read_state)
    r.add("POST", BASE + "/deploy/state", write_state)
    r.add("POST", BASE + "/deploy/state/delete", lambda req: ws_of(req).delete_state(
        req.required("state_id")))
    r.add("POST", BASE + "/audit", lambda req: ws_of(req).audit(
        req.required("action"), req.required("target"), req.arg("detail", {}, dict)))


def _job_id(ident: str) -> int:
    if not ident.isdigit():
        raise NotFound(f"job {ident} does not exist")
    return int(ident)
