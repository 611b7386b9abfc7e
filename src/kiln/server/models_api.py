"""The model lifecycle's decisions for the tasks a kiln server runs
(``/api/2.0/kiln/models/...``): ``kiln.lifecycle.validate`` evaluates a version in the task
and the server records the outcome (a version that passed becomes the ``challenger``);
``kiln.lifecycle.deploy`` is the server's, behind its validation and approval gates
(``kiln.workspace.task_client.ServerModels`` is the client). Both act as the request's
user, with the registry's privileges.
"""

from __future__ import annotations

from typing import Any, Callable

from kiln.errors import KilnError
from kiln.models.lifecycle import ValidationResult, deploy_version, record_validation
from kiln.models.registry import Registry
from kiln.server.http import Request, Router
from kiln.workspace import Workspace

BASE = "/api/2.0/kiln/models"
STATUSES = ("passed", "failed", "disabled")


def add_routes(r: Router, ws_of: Callable[[Request], Workspace]) -> None:
    def validations(req: Request) -> dict[str, Any]:
        status = req.required("status")
        if status not in STATUSES:
            raise KilnError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        metrics = {k: float(v) for k, v in req.arg("metrics", {}, dict).items()}
        result = ValidationResult(
            req.required("name"), req.required("version"), status, req.required("run_mode"),
            metrics, req.arg("baseline_version"),
            {k: float(v) for k, v in req.arg("baseline_metrics", {}, dict).items()},
            req.arg("message", ""))
        checked = req.arg("checked", None, list)
        record_validation(Registry(ws_of(req)), result, checked)
        return {}

    def deploy(req: Request) -> dict[str, Any]:
        return {"previous": deploy_version(
            Registry(ws_of(req)), req.required("name"), req.required("version"),
            req.arg("alias", "champion"), req.arg("force", False, bool), req.arg("reason", ""))}

    r.add("POST", BASE + "/validations", validations)
    r.add("POST", BASE + "/deploy", deploy)
