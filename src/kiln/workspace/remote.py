"""A workspace behind a ``kiln server``, over HTTP: what a deploy needs of it
(``RemoteWorkspace``, a ``DeployTarget``) and its jobs (``RemoteJobs``, the Jobs API).

Requests carry the profile's token (``Authorization: Bearer``); the server acts as the
token's user and enforces that user's permissions. Databricks' error bodies come back as
kiln's coded errors (``RESOURCE_DOES_NOT_EXIST`` is ``NotFound``, ...), so callers handle
a remote failure as they handle a local one. Standard library only: the CLI stays fast.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode, urlsplit

from kiln import errors
from kiln.profiles import Profile, token_for
from kiln.workspace.api import DeployState, DeployTarget, LockHeld, LockInfo, ObjectInfo, \
    StateConflict

KILN_API = "/api/2.0/kiln"
JOBS_API = "/api/2.2/jobs"

# The server names a subclass of a coded error in the body's ``details`` (Databricks'
# ErrorInfo ``reason``), so that a lock held stays a ``LockHeld`` across the wire.
_REASONS: dict[str, type[errors.KilnError]] = {"LockHeld": LockHeld,
                                               "StateConflict": StateConflict}
_CODES: dict[str, type[errors.KilnError]] = {
    errors.ErrorCode.RESOURCE_DOES_NOT_EXIST: errors.NotFound,
    errors.ErrorCode.RESOURCE_ALREADY_EXISTS: errors.AlreadyExists,
    errors.ErrorCode.RESOURCE_CONFLICT: errors.Conflict,
    errors.ErrorCode.PERMISSION_DENIED: errors.PermissionDenied,
    errors.ErrorCode.UNAUTHENTICATED: errors.Unauthenticated,
}


def error_from(status: int, body: bytes, where: str) -> errors.KilnError:
    """The coded error of a Databricks error body (``where`` names the server)."""
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    message = str(doc.get("message") or f"HTTP {status}")
    reason = next((d.get("reason") for d in doc.get("details") or []
                   if isinstance(d, dict) and d.get("reason") in _REASONS), None)
    if status == 401:
        return errors.Unauthenticated(
            f"{where}: {message}", detail="Check the token of the target's profile "
            "(DATABRICKS_TOKEN, ~/.databrickscfg or $KILN_HOME/config.toml).")
    if status >= 500:  # the server's own failure: say which server
        return errors.KilnError(f"{where}: {message}")
    cls = _REASONS[reason] if reason else _CODES.get(str(doc.get("error_code")), errors.KilnError)
    return cls(message)


class Client:
    """JSON over one kept-alive HTTP connection per thread."""

    def __init__(self, host: str, token: str | None) -> None:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.KilnError(f"workspace host {host!r} is not an http(s) URL")
        self.host = host.rstrip("/")
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else \
                http.client.HTTPConnection
            con = self._local.con = cls(self._netloc, timeout=300)
        return con

    def call(self, method: str, api: str, body: dict[str, Any] | None = None,
             query: dict[str, Any] | None = None) -> Any:
        if not self._token:
            raise errors.Unauthenticated(
                f"no token for the kiln server at {self.host}",
                detail="Set DATABRICKS_TOKEN, or a profile with host and token in "
                       "~/.databrickscfg or $KILN_HOME/config.toml (kiln tokens create makes one).")
        url = self._prefix + api
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):  # a kept-alive connection the server closed: once more
            con = self._connection()
            try:
                con.request(method, url, body=data, headers=headers)
                resp = con.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                con.close()
                self._local.con = None
                if attempt or isinstance(e, TimeoutError):
                    raise errors.KilnError(f"cannot reach the kiln server at {self.host}: {e}",
                                           detail="Is `kiln server` running there?") from None
        if resp.status >= 400:
            raise error_from(resp.status, raw, f"kiln server {self.host}")
        return json.loads(raw) if raw.strip() else {}

    def get(self, api: str, **query: Any) -> Any:
        return self.call("GET", api, query=query)

    def post(self, api: str, body: dict[str, Any]) -> Any:
        return self.call("POST", api, body)


def open_remote(host: str, profile: Profile | None, profiles: Mapping[str, Profile],
                env_token: str | None) -> "RemoteWorkspace":
    """The workspace of the kiln server at ``host``, with the token that goes with it."""
    return RemoteWorkspace(Client(host, token_for(host, profile, dict(profiles), env_token)))


class RemoteWorkspace(DeployTarget):
    """A kiln server's workspace, as a deploy uses it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.name = client.host
        self._user: str | None = None

    def current_user(self) -> str:
        if self._user is None:
            self._user = str(self.client.get("/api/2.0/preview/scim/v2/Me")["userName"])
        return self._user

    def url(self, kind: str, id: str) -> str:
        return f"{self.client.host}/#{kind}/{id}"

    # objects -----------------------------------------------------------------------
    def create(self, kind: str, name: str, settings: dict[str, Any],
               bundle_ref: str | None = None) -> ObjectInfo:
        return ObjectInfo(**self.client.post(KILN_API + "/objects/create", {
            "kind": kind, "name": name, "settings": settings, "bundle_ref": bundle_ref}))

    def update(self, kind: str, id: str, name: str, settings: dict[str, Any]) -> ObjectInfo:
        return ObjectInfo(**self.client.post(KILN_API + "/objects/update", {
            "kind": kind, "id": id, "name": name, "settings": settings}))

    def delete(self, kind: str, id: str) -> None:
        self.client.post(KILN_API + "/objects/delete", {"kind": kind, "id": id})

    def get(self, kind: str, id: str) -> ObjectInfo:
        return ObjectInfo(**self.client.get(KILN_API + "/objects/get", kind=kind, id=id))

    def list(self, kind: str | None = None, *, bundle_ref_prefix: str | None = None,
             name: str | None = None) -> list[ObjectInfo]:
        doc = self.client.get(KILN_API + "/objects/list", kind=kind,
                              bundle_ref_prefix=bundle_ref_prefix, name=name)
        return [ObjectInfo(**o) for o in doc.get("objects") or []]

    # workspace files ---------------------------------------------------------------
    def upload(self, path: str, local_file: str) -> None:
        with open(local_file, "rb") as f:
            self.write(path, f.read())

    def write(self, path: str, content: bytes) -> None:
        self.client.post(KILN_API + "/files/write", {
            "path": path, "content": base64.b64encode(content).decode()})

    def read(self, path: str) -> bytes:
        return base64.b64decode(self.client.get(KILN_API + "/files/read", path=path)["content"])

    def delete_path(self, path: str, recursive: bool = False) -> None:
        self.client.post(KILN_API + "/files/delete", {"path": path, "recursive": recursive})

    def list_files(self, path: str) -> list[str]:
        return list(self.client.get(KILN_API + "/files/list-all", path=path)["files"])

    def mkdirs(self, path: str) -> None:
        self.client.post(KILN_API + "/files/mkdirs", {"path": path})

    def path_kind(self, path: str) -> str | None:
        return self.client.get(KILN_API + "/files/kind", path=path).get("kind")

    def list_dir(self, path: str) -> list[tuple[str, bool]]:
        doc = self.client.get(KILN_API + "/files/list-dir", path=path)
        return [(e["name"], bool(e["is_dir"])) for e in doc["entries"]]

    # deployments -------------------------------------------------------------------
    def acquire_lock(self, state_id: str, holder: str, *, force: bool = False) -> LockInfo:
        return LockInfo(**self.client.post(KILN_API + "/deploy/lock", {
            "state_id": state_id, "holder": holder, "force": force}))

    def release_lock(self, state_id: str, lock_id: str) -> None:
        self.client.post(KILN_API + "/deploy/unlock", {"state_id": state_id, "lock_id": lock_id})

    def read_state(self, state_id: str) -> DeployState | None:
        doc = self.client.get(KILN_API + "/deploy/state", state_id=state_id)
        return DeployState(**doc["state"]) if doc.get("state") else None

    def write_state(self, state: DeployState) -> None:
        self.client.post(KILN_API + "/deploy/state", {"state": asdict(state)})

    def delete_state(self, state_id: str) -> None:
        self.client.post(KILN_API + "/deploy/state/delete", {"state_id": state_id})

    def audit(self, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        self.client.post(KILN_API + "/audit", {"action": action, "target": target,
                                               "detail": detail or {}})


class RemoteJobs:
    """The Jobs API of a kiln server, as ``bundle run`` uses it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def run_now(self, job_id: int, job_parameters: dict[str, str] | None = None,
                python_params: list[str] | None = None) -> int:
        body: dict[str, Any] = {"job_id": job_id, "job_parameters": job_parameters or {}}
        if python_params:
            body["python_params"] = python_params
        return int(self.client.post(JOBS_API + "/run-now", body)["run_id"])

    def get_run(self, run_id: int) -> dict[str, Any]:
        return dict(self.client.get(JOBS_API + "/runs/get", run_id=run_id))

    def run_output(self, task_run_id: int) -> dict[str, Any]:
        return dict(self.client.get(JOBS_API + "/runs/get-output", run_id=task_run_id))

    def cancel_run(self, run_id: int) -> None:
        self.client.post(JOBS_API + "/runs/cancel", {"run_id": run_id})
