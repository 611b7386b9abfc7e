"""How code in a task reaches its workspace's metadata: never by reading the workspace's
files or database itself.

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

from kiln.errors import KilnError
from kiln.settings import Settings


class TaskClient(Protocol):
    def secret(self, scope: str, key: str) -> str:
        """The secret's value (``NotFound`` when the scope or key does not exist)."""

    def secret_keys(self, scope: str) -> list[str]:
        """The keys of a scope (``NotFound`` when there is no such scope)."""

    def secret_scopes(self) -> list[str]: ...

    def enforces_grants(self) -> bool:
        """Whether the workspace has admins, and so enforces Unity Catalog privileges."""


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


def task_client(settings: Settings | None = None,
                workspace_dir: str | None = None) -> TaskClient:
    """The client of this task's workspace: its server's, or the embedded workspace's."""
    s = settings or Settings.from_env()
    if s.server_url and s.databricks_token:
        return ServerClient(s.server_url, s.databricks_token)
    directory = workspace_dir or s.workspace_dir
    if not directory:
        raise KilnError("no workspace: this works inside kiln job tasks, or in a session "
                        "bound to one with eval \"$(kiln env -t TARGET)\"")
    return EmbeddedClient(directory)

