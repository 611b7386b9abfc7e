"""How code in a task reaches its workspace's metadata (secrets, the catalog's tables and
functions): never by reading the workspace's files or database itself. A table's data is
read and written where the catalog says it is, once the catalog has checked the user's
privileges (``kiln.catalog.data``).

- A run a kiln server started reaches that server over its REST API with the run's own
  token (``DATABRICKS_HOST`` and ``DATABRICKS_TOKEN``, which the runner sets): the server
  answers as for any client, and gives a secret's value to a run's token alone.
- Any other run (an embedded workspace, ``kiln bundle run``) calls the workspace's own
  service calls in process.

Both answer the same questions the same way (``tests/workspace/test_task_client.py``).
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from kiln.catalog.data import TableMeta
from kiln.errors import KilnError
from kiln.run_context import RunContext
from kiln.settings import Settings


class TaskClient(Protocol):
    def secret(self, scope: str, key: str) -> str:
        """The secret's value (``NotFound`` when the scope or key does not exist)."""

    def secret_keys(self, scope: str) -> list[str]:
        """The keys of a scope (``NotFound`` when there is no such scope)."""

    def secret_scopes(self) -> list[str]: ...

    def enforces_grants(self) -> bool:
        """Whether the workspace has admins, and so enforces Unity Catalog privileges."""

    def catalog(self, context: RunContext) -> TableMeta:
        """The catalog, as the task's user, recording lineage for ``context``."""

    def models(self) -> Any:
        """The registry as the model lifecycle asks it (``kiln.models.lifecycle.Models``)."""

    def require_path(self, path: str, write: bool) -> None:
        """A ``/Volumes/...`` path needs READ VOLUME (to read) or WRITE VOLUME (to write)
        on its volume: ``PermissionDenied`` otherwise."""


class EmbeddedClient:
    """The workspace's own calls, in this process."""

    def __init__(self, workspace_dir: str) -> None:
        from kiln.session import workspace_at

        self.ws: Any = workspace_at(workspace_dir)

    def secret(self, scope: str, key: str) -> str:
        return str(self.ws.get_secret(scope, key))

    def secret_keys(self, scope: str) -> list[str]:
        return list(self.ws.list_secrets(scope))

    def secret_scopes(self) -> list[str]:
        return list(self.ws.list_scopes())

    def enforces_grants(self) -> bool:
        return bool(self.ws.group_members("admins"))

    def catalog(self, context: RunContext) -> TableMeta:
        from kiln.catalog import Catalog

        return Catalog(self.ws, context=context)

    def models(self) -> Any:
        from kiln.models.lifecycle import RegistryModels
        from kiln.models.registry import Registry

        return RegistryModels(Registry(self.ws))

    def require_path(self, path: str, write: bool) -> None:
        from kiln.catalog import Catalog

        Catalog(self.ws).require_path(path, write)


class ServerClient:
    """The kiln server that started the run, over its REST API, as the run."""

    def __init__(self, host: str, token: str) -> None:
        from kiln.workspace.remote import Client

        self.http = Client(host, token)

    def secret(self, scope: str, key: str) -> str:
        doc = self.http.get("/api/2.0/secrets/get", scope=scope, key=key)
        return base64.b64decode(doc["value"]).decode("utf-8")

    def secret_keys(self, scope: str) -> list[str]:
        return [s["key"] for s in self.http.get("/api/2.0/secrets/list",
                                                scope=scope).get("secrets") or []]

    def secret_scopes(self) -> list[str]:
        return [s["name"] for s in self.http.get("/api/2.0/secrets/scopes/list"
                                                 ).get("scopes") or []]

    def enforces_grants(self) -> bool:
        groups = self.http.get("/api/2.0/preview/scim/v2/Groups").get("Resources") or []
        return any(g.get("displayName") == "admins" and g.get("members") for g in groups)

    def catalog(self, context: RunContext) -> TableMeta:
        return ServerCatalog(self.http, context)

    def models(self) -> Any:
        return ServerModels(self.http)

    def require_path(self, path: str, write: bool) -> None:
        self.http.post(CATALOG_API + "/path-access", {"path": path, "write": write})


CATALOG_API = "/api/2.0/kiln/catalog"


class ServerCatalog:
    """The catalog of the kiln server that started the run (``kiln.server.catalog_api``):
    it checks, registers, audits and records lineage; the job run is the token's."""

    def __init__(self, http: Any, context: RunContext) -> None:
        self.http = http
        self.context = context

    def _run(self) -> dict[str, Any]:
        return {"task_key": self.context.task_key,
                "mlflow_run_id": self.context.mlflow_run_id()}

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        return self.http.post(CATALOG_API + path, body)

    def table_info(self, table: str) -> dict[str, Any] | None:
        return self.http.get(CATALOG_API + "/table-info", name=table).get("table")

    def location(self, table: str, privilege: str = "SELECT") -> str:
        return str(self.http.get(CATALOG_API + "/location", name=table,
                                 privilege=privilege)["location"])

    def new_table(self, table: str, location: str | None) -> str:
        return str(self._post("/new-table", {"name": table, "location": location})["location"])

    def created(self, table: str, where: str, rows: int) -> None:
        self._post("/created", {"name": table, "location": where, "rows": rows, **self._run()})

    def written(self, table: str, mode: str, version: int, rows: int, record: bool,
                evolved: bool = False) -> None:
        self._post("/written", {"name": table, "mode": mode, "version": version, "rows": rows,
                                "record": record, "evolved": evolved, **self._run()})

    def record(self, table: str, op: str, version: int | None = None) -> None:
        self._post("/record", {"name": table, "op": op, "version": version, **self._run()})

    def list_tables(self, schema: str | None = None) -> list[str]:
        return list(self.http.get(CATALOG_API + "/tables", schema=schema)["tables"])

    def annotate(self, table: str, properties: dict[str, Any]) -> None:
        self._post("/annotate", {"name": table, "properties": properties})

    def drop(self, table: str) -> None:
        from urllib.parse import quote

        self.http.call("DELETE", "/api/2.1/unity-catalog/tables/" + quote(table, safe=""))

    def create_function(self, sql: str) -> dict[str, Any]:
        return dict(self._post("/functions", {"sql": sql}))

    def function(self, name: str) -> dict[str, Any]:
        return dict(self.http.get(CATALOG_API + "/function", name=name))

    def online_root(self) -> str:
        return str(self.http.get(CATALOG_API + "/online-store")["location"])


class ServerModels:
    """The registry of the kiln server that started the run: versions are read through
    Unity Catalog's REST API; a validation's outcome and a deploy are the server's to
    record and make (``kiln.server.models_api``), under its approval gate."""

    def __init__(self, http: Any) -> None:
        self.http = http

    def _model(self, name: str) -> str:
        from urllib.parse import quote

        return "/api/2.1/unity-catalog/models/" + quote(name, safe="")

    def resolve(self, name: str, version: str | None = None,
                alias: str | None = None) -> tuple[str, str]:
        if version is not None or alias is not None:
            doc = self.http.get(self._model(name) + (
                f"/versions/{version}" if version is not None else f"/aliases/{alias}"))
        else:  # the latest version
            docs = self.http.get(self._model(name) + "/versions").get("model_versions") or []
            if not docs:
                raise KilnError(f"{name} has no versions")
            doc = max(docs, key=lambda d: int(d["version"]))
        return ".".join((doc["catalog_name"], doc["schema_name"], doc["model_name"])), \
            str(doc["version"])

    def by_alias(self, name: str, alias: str) -> str | None:
        from kiln.errors import NotFound

        try:
            return str(self.http.get(self._model(name) + f"/aliases/{alias}")["version"])
        except NotFound:
            return None

    def record_validation(self, result: Any, checked: list[str] | None) -> None:
        from dataclasses import asdict

        self.http.post("/api/2.0/kiln/models/validations", {**asdict(result),
                                                            "checked": checked})

    def deploy(self, name: str, version: int | str, alias: str, force: bool,
               reason: str) -> str | None:
        return self.http.post("/api/2.0/kiln/models/deploy", {
            "name": name, "version": str(version), "alias": alias, "force": force,
            "reason": reason}).get("previous")


def task_client(settings: Settings | None = None,
                workspace_dir: str | None = None) -> TaskClient:
    """The client of this task's workspace: its server's, or the embedded workspace's."""
    s = settings or Settings.from_env()
    # a task of a run the server started: the runner sets all three (the token is the
    # run's); the server's own processes (serving) have no run, and use the workspace
    if s.server_url and s.databricks_token and s.job_run_id is not None:
        return ServerClient(s.server_url, s.databricks_token)
    directory = workspace_dir or s.workspace_dir
    from kiln.workspace.local.database import exists

    if not directory or not exists(directory):
        raise KilnError("no workspace: this works inside kiln job tasks, or in a session "
                        "bound to one with eval \"$(kiln env -t TARGET)\"")
    return EmbeddedClient(directory)

