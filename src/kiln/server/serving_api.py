"""Serving endpoint management (``/api/2.0/serving-endpoints``) in Databricks' shapes:
list, get, create, update-config (PUT ``.../config``) and delete, through
``kiln.serving.endpoints``. Queries go to ``/serving-endpoints/<name>/invocations``, the
serving app that this server runs beside it."""

from __future__ import annotations

from typing import Any, Callable

from kiln.serving.endpoints import Endpoints
from kiln.server.http import Request, Router

BASE = "/api/2.0/serving-endpoints"
NAME = r"/(?P<name>[^/]+)"


def add_routes(r: Router, eps_of: Callable[[Request], Endpoints]) -> None:
    def create(req: Request) -> dict[str, Any]:
        eps = eps_of(req)
        body = {k: v for k, v in req.body.items() if k != "name"}
        return eps.document(eps.create(req.required("name"), body))

    def update_config(req: Request) -> dict[str, Any]:
        eps = eps_of(req)
        return eps.document(eps.update_config(req.params["name"], dict(req.body)))

    r.add("GET", BASE, lambda req: {
        "endpoints": [eps_of(req).document(o) for o in eps_of(req).list()]})
    r.add("POST", BASE, create)
    r.add("GET", BASE + NAME, lambda req: eps_of(req).document(eps_of(req).get(
        req.params["name"])))
    r.add("PUT", BASE + NAME + "/config", update_config)
    r.add("DELETE", BASE + NAME, lambda req: eps_of(req).delete(req.params["name"]))
