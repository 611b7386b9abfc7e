"""Serving endpoints of a workspace, as the CLI and ``kiln server`` both manage them.

An endpoint is a workspace object (kind ``model_serving_endpoints``) whose settings hold
Databricks' endpoint document (``config`` with ``served_entities`` and
``traffic_config``, ``ai_gateway``, ``permissions``); a running server reads them and
switches to a new config with zero downtime. Every config is checked as the server will
read it before it is stored. Its state is what the server that serves it last wrote.

Permissions, as on Databricks: CAN_QUERY lets a user query the endpoint (and see it),
CAN_MANAGE change and delete it; its creator and workspace admins hold every level, and
a permission to the group ``users`` is everyone's. An endpoint without a permission list
is open to every user of the workspace.
"""

from __future__ import annotations

from typing import Any

from kiln import acl
from kiln.errors import KilnError, NotFound, PermissionDenied
from kiln.serving import config as cfg
from kiln.workspace import ObjectInfo, Workspace

KIND = "model_serving_endpoints"
LEVELS = ("CAN_VIEW", "CAN_QUERY", "CAN_MANAGE")


def state_of(ws: Workspace, name: str) -> dict[str, Any]:
    """What the serving server wrote about the endpoint (``state``, ``served_entities``)."""
    return ws.endpoint_state(name) or {"state": {"ready": "NOT_SERVED"}}


class Endpoints:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.acl = acl.ObjectAcl(ws, KIND, "serving-endpoint", LEVELS, "serving_endpoints")

    def _level(self, obj: ObjectInfo) -> int:
        """The current user's level on the endpoint (index into LEVELS; -1: none)."""
        return self.acl.level(obj)

    def permissions(self, name: str) -> dict[str, Any]:
        return self.acl.document(self._endpoint(name, "CAN_VIEW"))

    def set_permissions(self, name: str, entries: list[Any], *, replace: bool
                        ) -> dict[str, Any]:
        """Replace (PUT) or update (PATCH) who may view, query and manage: CAN_MANAGE."""
        self.acl.change(self._endpoint(name, "CAN_MANAGE"), entries, replace=replace)
        return self.permissions(name)

    def _endpoint(self, name: str, need: str) -> ObjectInfo:
        try:
            obj = self.ws.get(KIND, name)
        except NotFound:
            raise NotFound(f"Endpoint with name '{name}' does not exist.") from None
        level = self._level(obj)
        if level < 0:
            raise NotFound(f"Endpoint with name '{name}' does not exist.")
        if level < LEVELS.index(need):
            raise PermissionDenied(f"{self.ws.current_user()} needs {need} on serving "
                                   f"endpoint {name} (has {LEVELS[level]})")
        return obj

    def document(self, obj: ObjectInfo) -> dict[str, Any]:
        """Databricks' endpoint document, with the state the server reported."""
        state = state_of(self.ws, obj.id)
        ready = (state.get("state") or {}).get("ready", "NOT_SERVED")
        return {"name": obj.id, "id": obj.id, "creator": obj.creator,
                "creation_timestamp": obj.created_at,
                "last_updated_timestamp": obj.updated_at,
                "config": obj.settings.get("config") or {},
                "ai_gateway": obj.settings.get("ai_gateway"),
                "permission_level": LEVELS[max(self._level(obj), 0)],
                "state": {"ready": "READY" if ready == "READY" else "NOT_READY",
                          "config_update": "NOT_UPDATING"},
                "served_entities": state.get("served_entities") or []}

    def list(self) -> list[ObjectInfo]:
        return [o for o in self.ws.list(KIND) if self._level(o) >= 0]

    def get(self, name: str) -> ObjectInfo:
        return self._endpoint(name, "CAN_VIEW")

    def create(self, name: str, settings: dict[str, Any]) -> ObjectInfo:
        """A new endpoint from Databricks' create request (``config``, ``ai_gateway``, ...)."""
        if not name:
            raise KilnError("an endpoint needs a name")
        for key in ("config", "ai_gateway"):
            if not isinstance(settings.get(key) or {}, dict):
                raise KilnError(f"{key} of serving endpoint {name} must be an object")
        settings = {**settings, "name": name}
        _parse(name, settings, self.ws.current_user())  # as the server will read it
        obj = self.ws.create(KIND, name, settings)
        self.ws.audit("serving_endpoints.create", name, {"config": settings.get("config")})
        return obj

    def update_config(self, name: str, config: dict[str, Any]) -> ObjectInfo:
        """Replace the fields of the endpoint's config that ``config`` gives."""
        obj = self._endpoint(name, "CAN_MANAGE")
        settings = {**obj.settings, "config": {**(obj.settings.get("config") or {}), **config}}
        _parse(name, settings, obj.creator)  # refuse a config the server could not use
        updated = self.ws.update(KIND, name, obj.name, settings)
        self.ws.audit("serving_endpoints.update_config", name, {"config": config})
        return updated

    def delete(self, name: str) -> None:
        self._endpoint(name, "CAN_MANAGE")
        self.ws.delete(KIND, name)
        self.ws.audit("serving_endpoints.delete", name)


def _parse(name: str, settings: dict[str, Any], creator: str) -> None:
    """Check a config as the server will read it; a field of the wrong JSON type is the
    request's error, not the server's."""
    try:
        cfg.parse(name, settings, creator)
    except (AttributeError, TypeError, ValueError) as e:
        raise KilnError(f"invalid config of serving endpoint {name}: a field has the wrong "
                        f"type ({e})") from None
