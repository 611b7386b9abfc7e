"""The app ``kiln server`` runs: the workspace's REST API under ``/api/`` and its serving
endpoints (``/serving-endpoints/...``, ``/health``, ``/metrics``) on one port."""

from __future__ import annotations

from typing import Any

from kiln.server.api import build_router
from kiln.server.http import App
from kiln.workspace import Workspace


def with_rest_api(ws: Workspace, serving: Any) -> Any:
    """An ASGI app: ``/api/...`` to the REST API, everything else (and the lifespan, which
    stops the models) to ``serving``."""
    rest = App(build_router(ws), ws.user_for_token)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await rest(scope, receive, send)
        else:
            await serving(scope, receive, send)

    app.runtime = serving.runtime  # type: ignore[attr-defined]  (the server stops it)
    return app
