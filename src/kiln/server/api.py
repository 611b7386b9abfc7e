"""The REST API of ``kiln server``, path by path, in Databricks' shapes: the current
user (SCIM ``Me``) and Jobs 2.2 (jobs list/get/delete/run-now, runs get/list/cancel).
Each handler only moves data between the request and a service."""

from __future__ import annotations

from typing import Any

from kiln.jobs.service import JobsService
from kiln.server.http import Request, Router
from kiln.workspace import Workspace

JOBS = "/api/2.[12]/jobs"


def build_router(ws: Workspace) -> Router:
    jobs = JobsService(ws)
    r = Router()

    def me(req: Request) -> dict[str, Any]:
        return {"userName": req.user, "displayName": req.user, "id": req.user,
                "active": True, "emails": [{"value": req.user, "primary": True}],
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}

    def jobs_list(req: Request) -> dict[str, Any]:
        offset = int(req.arg("page_token", "0") or 0)
        limit = req.arg("limit", 25, int)
        page, more = jobs.list_jobs(offset=offset, limit=limit, name=req.arg("name"))
        out: dict[str, Any] = {"jobs": page, "has_more": more}
        if more:
            out["next_page_token"] = str(offset + limit)
        return out

    def runs_list(req: Request) -> dict[str, Any]:
        offset = int(req.arg("page_token", "0") or 0)
        limit = req.arg("limit", 25, int)
        page, more = jobs.list_runs(job_id=req.arg("job_id", None, int), offset=offset,
                                    limit=limit)
        out: dict[str, Any] = {"runs": page, "has_more": more}
        if more:
            out["next_page_token"] = str(offset + limit)
        return out

    def run_now(req: Request) -> dict[str, Any]:
        params = req.arg("job_parameters", {}, dict)
        run_id = jobs.run_now(req.required("job_id", int), {k: str(v) for k, v in params.items()},
                              req.arg("python_params", None, list))
        return {"run_id": run_id, "number_in_job": run_id}

    r.add("GET", "/api/2.0/preview/scim/v2/Me", me)
    r.add("GET", JOBS + "/list", jobs_list)
    r.add("GET", JOBS + "/get", lambda req: jobs.get_job(req.required("job_id", int)))
    r.add("POST", JOBS + "/delete", lambda req: jobs.delete_job(req.required("job_id", int)))
    r.add("POST", JOBS + "/run-now", run_now)
    r.add("GET", JOBS + "/runs/get", lambda req: jobs.get_run(req.required("run_id", int)))
    r.add("GET", JOBS + "/runs/list", runs_list)
    r.add("POST", JOBS + "/runs/cancel", lambda req: jobs.cancel_run(req.required("run_id", int)))
    return r
