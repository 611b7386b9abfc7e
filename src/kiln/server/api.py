"""The REST API of ``kiln server``, path by path, in Databricks' shapes: identities
(SCIM, ``kiln.server.scim``), Jobs 2.2 (jobs list/get/delete/run-now, runs get/list/cancel),
workspace files (import/export/list/mkdirs/delete/get-status), secrets and Unity
Catalog (``kiln.server.uc``). Each handler
only moves data between the request and a service."""

from __future__ import annotations

import base64
from typing import Any, Callable

from kiln.errors import KilnError, PermissionDenied
from kiln.jobs.service import JobsService
from kiln.jobs.states import DONE_LIFE_CYCLES
from kiln.workspace.files import WorkspaceFiles
from kiln.identity import Identities
from kiln.server import catalog_api, deploy_api, files_api, models_api, scim, serving_api, uc
from kiln.serving.endpoints import Endpoints
from kiln.server.http import Request, Router
from kiln.server.openapi import check_requests, describe
from kiln.workspace import Workspace

JOBS = "/api/2.[12]/jobs"


def build_router(ws: Workspace) -> Router:
    """Every handler acts as the request's user (``Workspace.as_user``): what it creates and
    audits is theirs."""
    r = Router()

    def jobs_of(req: Request) -> JobsService:
        return JobsService(ws.as_user(req.user))

    def jobs_list(req: Request) -> dict[str, Any]:
        return _paged(req, "jobs", lambda offset, limit: jobs_of(req).list_jobs(
            offset=offset, limit=limit, name=req.arg("name")))

    def runs_list(req: Request) -> dict[str, Any]:
        return _paged(req, "runs", lambda offset, limit: jobs_of(req).list_runs(
            job_id=req.arg("job_id", None, int), offset=offset, limit=limit))

    def run_now(req: Request) -> dict[str, Any]:
        params = req.arg("job_parameters", {}, dict)
        run_id = jobs_of(req).run_now(req.required("job_id", int), {k: str(v) for k, v in params.items()},
                              req.arg("python_params", None, list))
        return {"run_id": run_id, "number_in_job": run_id}

    r.add("GET", JOBS + "/list", jobs_list)
    r.add("GET", JOBS + "/get", lambda req: jobs_of(req).get_job(req.required("job_id", int)))
    r.add("POST", JOBS + "/delete", lambda req: jobs_of(req).delete_job(req.required("job_id", int)))
    r.add("POST", JOBS + "/create", lambda req: {
        "job_id": jobs_of(req).create_job({k: v for k, v in req.body.items()})})
    r.add("POST", JOBS + "/reset", lambda req: jobs_of(req).reset_job(
        req.required("job_id", int), req.required("new_settings", dict)))
    r.add("POST", JOBS + "/run-now", run_now)
    r.add("GET", JOBS + "/runs/get", lambda req: jobs_of(req).get_run(req.required("run_id", int)))
    r.add("GET", JOBS + "/runs/list", runs_list)
    r.add("GET", JOBS + "/runs/get-output", lambda req: jobs_of(req).run_output(
        req.required("run_id", int)))
    def cancel(req: Request) -> dict[str, Any]:
        jobs_of(req).cancel_run(req.required("run_id", int))  # a finished run: nothing to do
        return {}

    r.add("POST", JOBS + "/runs/cancel", cancel)
    def ids_of(req: Request) -> Identities:
        return Identities(ws.as_user(req.user))

    r.add("POST", "/api/2.0/token/create", lambda req: ids_of(req).create_token(
        req.arg("comment", ""), req.arg("lifetime_seconds", None, int)))
    r.add("GET", "/api/2.0/token/list", lambda req: {"token_infos": ids_of(req).tokens()})
    r.add("POST", "/api/2.0/token/delete", lambda req: ids_of(req).revoke_token(
        req.required("token_id")))
    r.add("POST", JOBS + "/update", lambda req: jobs_of(req).update_job(
        req.required("job_id", int), req.arg("new_settings", {}, dict),
        req.arg("fields_to_remove", [], list)))
    r.add("POST", JOBS + "/runs/submit", lambda req: {"run_id": jobs_of(req).submit_run(
        {k: v for k, v in req.body.items()})})

    perms = "/api/2.0/permissions"
    for method, replace in (("PUT", True), ("PATCH", False)):
        r.add(method, perms + r"/jobs/(?P<id>\d+)", lambda req, replace=replace: jobs_of(
            req).set_permissions(int(req.params["id"]), req.arg("access_control_list", [], list),
                                 replace=replace))
        r.add(method, perms + "/serving-endpoints/(?P<id>[^/]+)",
              lambda req, replace=replace: Endpoints(ws.as_user(req.user)).set_permissions(
                  req.params["id"], req.arg("access_control_list", [], list), replace=replace))
    r.add("GET", perms + r"/jobs/(?P<id>\d+)", lambda req: jobs_of(req).permissions(
        int(req.params["id"])))
    r.add("GET", perms + "/serving-endpoints/(?P<id>[^/]+)", lambda req: Endpoints(
        ws.as_user(req.user)).permissions(req.params["id"]))
    _workspace_files(r, lambda req: WorkspaceFiles(ws.as_user(req.user)))
    _secrets(r, lambda req: ws.as_user(req.user))
    r.add("GET", "/api/openapi.json", lambda req: describe(r))
    uc.add_routes(r, lambda req: ws.as_user(req.user))
    deploy_api.add_routes(r, lambda req: ws.as_user(req.user))
    catalog_api.add_routes(r, lambda req: ws.as_user(req.user))
    models_api.add_routes(r, lambda req: ws.as_user(req.user))
    files_api.add_routes(r, lambda req: ws.as_user(req.user))
    serving_api.add_routes(r, lambda req: Endpoints(ws.as_user(req.user)))
    scim.add_routes(r, ids_of)
    check_requests(r)
    return r


def _workspace_files(r: Router, files_of: Callable[[Request], WorkspaceFiles]) -> None:
    base = "/api/2.0/workspace"

    def import_(req: Request) -> dict[str, Any]:
        fmt = req.arg("format", "SOURCE")
        if fmt not in ("SOURCE", "AUTO", "RAW"):
            raise KilnError(f"import format {fmt} is not supported: use SOURCE, AUTO or RAW")
        language = req.arg("language")
        if fmt != "SOURCE" or language is None:
            language = None
        files_of(req).import_(req.required("path"), _unbase64(req.arg("content", "")),
                      language=language, overwrite=req.arg("overwrite", False, bool))
        return {}

    def export(req: Request) -> dict[str, Any]:
        return {"content": base64.b64encode(files_of(req).export(req.required("path"))).decode()}

    r.add("GET", base + "/get-status", lambda req: files_of(req).status(req.required("path")).document())
    r.add("GET", base + "/list", lambda req: {
        "objects": [e.document() for e in files_of(req).list(req.required("path"))]})
    r.add("POST", base + "/mkdirs", lambda req: files_of(req).mkdirs(req.required("path")))
    r.add("POST", base + "/delete", lambda req: files_of(req).delete(
        req.required("path"), req.arg("recursive", False, bool)))
    r.add("POST", base + "/import", import_)
    r.add("GET", base + "/export", export)


def _secrets(r: Router, ws_of: Callable[[Request], Workspace]) -> None:
    base = "/api/2.0/secrets"

    def put(req: Request) -> dict[str, Any]:
        value = req.arg("string_value")
        if value is None and req.arg("bytes_value") is not None:
            value = _unbase64(req.arg("bytes_value")).decode()
        if value is None:
            raise KilnError("put needs string_value or bytes_value")
        ws_of(req).put_secret(req.required("scope"), req.required("key"), value)
        return {}

    r.add("POST", base + "/scopes/create", lambda req: ws_of(req).create_scope(req.required("scope")))
    r.add("POST", base + "/scopes/delete", lambda req: ws_of(req).delete_scope(req.required("scope")))
    r.add("GET", base + "/scopes/list", lambda req: {
        "scopes": [{"name": s, "backend_type": "DATABRICKS"} for s in ws_of(req).list_scopes()]})
    r.add("POST", base + "/put", put)
    r.add("POST", base + "/delete", lambda req: ws_of(req).delete_secret(req.required("scope"),
                                                                 req.required("key")))
    r.add("GET", base + "/list", lambda req: {
        "secrets": [{"key": k} for k in ws_of(req).list_secrets(req.required("scope"))]})
    r.add("GET", base + "/get", lambda req: _secret_for_run(ws_of(req), req))


def _secret_for_run(ws: Workspace, req: Request) -> dict[str, Any]:
    """A secret's value, for a job run's own token while the run is active (what
    ``dbutils.secrets`` in its tasks asks): no person's token ever receives one."""
    scope, key = req.required("scope"), req.required("key")
    if req.run_id is None:
        raise PermissionDenied("a secret's value is given only to the job runs that use it: "
                               "read it with dbutils.secrets.get in a task")
    state = ws.get_run(req.run_id)["state"].get("life_cycle_state")
    if state in DONE_LIFE_CYCLES:
        raise PermissionDenied(f"run {req.run_id} is {state}: its token reads no secrets")
    value = ws.get_secret(scope, key)
    ws.audit("secrets.read", f"{scope}/{key}", {"run_id": req.run_id})
    return {"key": key, "value": base64.b64encode(value.encode()).decode()}


def _paged(req: Request, key: str,
           page: Callable[[int, int], tuple[list[Any], bool]]) -> dict[str, Any]:
    """One page of a list, as the Jobs API pages: ``limit``, and the ``page_token`` that
    the page before gave as ``next_page_token``."""
    raw = req.arg("page_token") or "0"
    if not raw.isdigit():
        raise KilnError(f"invalid page_token: {raw!r}")
    offset, limit = int(raw), req.arg("limit", 25, int)
    items, more = page(offset, limit)
    out: dict[str, Any] = {key: items, "has_more": more}
    if more:
        out["next_page_token"] = str(offset + limit)
    return out


def _unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise KilnError("content must be base64") from None
