"""The app ``kiln server`` runs, on one port:

- ``/api/2.0/mlflow/...``, ``/api/3.0/mlflow/...``, ``/api/2.0/mlflow-artifacts/...``:
  MLflow's own tracking server (its REST API, as the MLflow client calls it) on the
  workspace's store, serving artifacts too, behind kiln's tokens and the registry's Unity
  Catalog privileges (``kiln.server.mlflow_guard``);
- other ``/api/...``: the workspace's REST API in Databricks' shapes (``kiln.server.api``);
- everything else (``/serving-endpoints/...``, ``/health``, ``/metrics``, and the
  lifespan, which stops the models): the serving endpoints.

The server also fires the workspace's scheduled jobs (``start_scheduler``), unless told
not to (``kiln server --no-scheduler``: another process does).

MLflow's server keeps its stores process-wide, so one server process serves one
workspace (``kiln.server.front`` puts several behind one port).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from kiln.errors import KilnError
from kiln.server.api import build_router
from kiln.server.mlflow_guard import guarded
from kiln.server.http import HOST_METADATA, App, authenticate, host_metadata, reply_error, send_json
from kiln.workspace import Workspace

MLFLOW_PREFIXES = ("/api/2.0/mlflow/", "/api/3.0/mlflow/", "/api/2.0/mlflow-artifacts/")


def start_scheduler(ws: Workspace, interval_s: float = 1.0) -> threading.Event:
    """Fire the workspace's scheduled and periodic jobs from this process (each run in a
    process of its own, as ``run-now`` starts it); set the event to stop."""
    from kiln.jobs.detached import start
    from kiln.jobs.scheduler import Scheduler

    log = logging.getLogger("kiln.serving")

    def start_run(target: Workspace, job_id: int) -> None:
        try:
            run_id = start(target, job_id)
            log.info("scheduler: started run %s of job %s", run_id, job_id)
        except KilnError as e:
            log.error("scheduler: job %s: %s", job_id, e.summary)

    stop = threading.Event()
    threading.Thread(target=Scheduler([ws], start_run).serve, args=(stop, interval_s),
                     name="kiln-scheduler", daemon=True).start()
    return stop


def with_rest_api(ws: Workspace, serving: Any) -> Any:
    from kiln.models.store import serve_artifacts

    serve_artifacts()  # what this server makes keeps its artifacts where clients reach them
    rest = App(build_router(ws), ws.token_owner,
               audit=lambda user, action, detail: ws.as_user(user).audit(
                   "api.request", action, detail))
    mlflow: list[Any] = []  # MLflow's app, made on its first request (its import costs ~2 s)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == HOST_METADATA:
            await send_json(send, 200, host_metadata())
        elif path.startswith(MLFLOW_PREFIXES):
            try:
                user = authenticate(scope, ws.user_for_token)
            except KilnError as e:
                await reply_error(send, e)
                return
            if not mlflow:
                mlflow.append(guarded(ws, _mlflow_app(ws)))
            await mlflow[0]({**scope, "kiln.user": user}, receive, send)
        elif path.startswith("/api/"):
            await rest(scope, receive, send)
        else:
            await serving(scope, receive, send)

    app.runtime = serving.runtime  # type: ignore[attr-defined]  (the server stops it)
    return app


def _mlflow_app(ws: Workspace) -> Any:
    from kiln.models.store import artifact_root, ensure_store

    uri = ensure_store(ws.local_root())
    # artifacts travel through the server (a client on another machine logs and loads
    # models): experiments it makes keep them at mlflow-artifacts:/..., which it stores
    # in the workspace's artifact root (kiln.models.artifacts resolves them there too)
    os.environ.update({"_MLFLOW_SERVER_FILE_STORE": uri, "_MLFLOW_SERVER_REGISTRY_STORE": uri,
                       "_MLFLOW_SERVER_ARTIFACT_ROOT": "mlflow-artifacts:/",
                       "_MLFLOW_SERVER_SERVE_ARTIFACTS": "true",
                       "_MLFLOW_SERVER_ARTIFACT_DESTINATION": artifact_root(ws.local_root())})
    from mlflow.server import app as flask_app
    from uvicorn.middleware.wsgi import WSGIMiddleware

    return WSGIMiddleware(flask_app)
