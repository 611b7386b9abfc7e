"""Unity Catalog privileges on MLflow's registry REST (``/api/2.0/mlflow/...``), which
``kiln server`` serves beside its own API: the same model answers the same user the
same way through either door.

- reading a model, a version or an alias needs EXECUTE on the model;
- creating a model needs CREATE_MODEL on its schema; its creator then holds
  ALL_PRIVILEGES and MANAGE on it (MLflow keeps no owner: this grant is the record);
- changing or deleting a model, its versions, tags and aliases needs ownership or MANAGE;
- setting or deleting an alias of a Unity Catalog model is kiln's registry's own call, as
  through kiln's REST API and CLI: under the model's lock, behind the workspace's approval
  gate, audited as ``models.set_alias``;
- searches answer only the models the user may read.

Each request's model name comes from its query (GET) or JSON body. Run artifacts
(``/api/2.0/mlflow-artifacts/...``, which the server stores for the experiments it makes)
stream through unchecked: experiments carry no privileges in kiln. Every mutating request
is audited, as the REST API's are.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

from kiln.catalog.grants import Grants
from kiln.errors import HTTP_STATUS, KilnError
from kiln.models.registry import Registry
from kiln.server.http import reply_error
from kiln.workspace import Workspace

_READ = {"registered-models/get", "registered-models/get-latest-versions",
         "model-versions/get", "model-versions/get-download-uri"}
_MANAGE = {"registered-models/update", "registered-models/rename", "registered-models/delete",
           "registered-models/set-tag", "registered-models/delete-tag", "model-versions/create",
           "model-versions/update", "model-versions/delete", "model-versions/set-tag",
           "model-versions/delete-tag", "model-versions/transition-stage"}
_SEARCH = {"registered-models/search": "registered_models",
           "model-versions/search": "model_versions"}


def _op(path: str) -> str:
    parts = path.split("/mlflow/", 1)
    return parts[1].strip("/") if len(parts) == 2 else ""


def _uc(name: Any) -> bool:
    return isinstance(name, str) and name.count(".") == 2


def guarded(ws: Workspace, app: Any) -> Callable[..., Any]:
    """``app`` (MLflow's server) behind the privileges of each request's user (the scope's
    ``kiln.user``)."""

    async def guard(scope: dict[str, Any], receive: Any, send: Any) -> None:
        user, op, method = scope["kiln.user"], _op(scope["path"]), scope["method"]
        if "/mlflow-artifacts/" in scope["path"]:  # run artifacts: streamed as they are
            await _passed(app, ws, user, scope, receive, send)
            return
        body = b""
        if method != "GET":
            chunks = []
            while True:
                msg = await receive()
                chunks.append(msg.get("body", b""))
                if not msg.get("more_body"):
                    break
            body = b"".join(chunks)
        args = _args(scope, body)
        grants = Grants(ws.as_user(user))
        name = args.get("name")
        try:
            await asyncio.to_thread(_check, grants, op, method, name)
        except KilnError as e:
            await _refused(ws, user, scope, send, e)
            return
        if op == "registered-models/alias" and method in ("POST", "DELETE") and _uc(name):
            await _alias(ws, user, scope, send, method, args)
            return
        replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive_again() -> dict[str, Any]:
            return replay.pop() if replay else await receive()

        if op in _SEARCH:
            send = _filtering(send, grants, _SEARCH[op])

        def after(status: int) -> None:
            if op == "registered-models/create" and status == 200 and _uc(name):
                Registry(ws.as_user(user)).owned_by_creator(str(name))
            if method != "GET":
                _audit(ws, user, scope, {"status": status})

        await _relay(app, scope, receive_again, send, after)

    return guard


async def _passed(app: Any, ws: Workspace, user: str, scope: dict[str, Any], receive: Any,
                  send: Any) -> None:
    """A request that no privilege governs (experiments carry none in kiln: a run's
    artifacts are any user's of the workspace), audited when it changes something."""

    def after(status: int) -> None:
        if scope["method"] != "GET":
            _audit(ws, user, scope, {"status": status})

    await _relay(app, scope, receive, send, after)


async def _relay(app: Any, scope: dict[str, Any], receive: Any, send: Any,
                 after: Callable[[int], None]) -> None:
    """``app``'s answer, streamed, but for its last message, which waits for ``after(status)``
    (a created model's ownership, the audit): the client's next call, which may come the
    moment the answer ends, finds them done."""
    status: list[int] = []
    last: list[dict[str, Any]] = []

    async def send_holding_last(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            status.append(msg["status"])
        if msg["type"] == "http.response.body" and not msg.get("more_body"):
            last.append(msg)
            return
        await send(msg)

    await app(scope, receive, send_holding_last)
    await asyncio.to_thread(after, status[0] if status else 0)
    for msg in last:
        await send(msg)


async def _alias(ws: Workspace, user: str, scope: dict[str, Any], send: Any, method: str,
                 args: dict[str, Any]) -> None:
    """MLflow's ``registered-models/alias`` set (POST) or delete (DELETE), by the registry:
    MLflow's answer on success (``{}``), a coded error otherwise; audited either way."""
    from kiln.server.http import send_json

    def change() -> None:
        registry = Registry(ws.as_user(user))
        if method == "POST":
            registry.set_alias(str(args["name"]), str(args.get("alias") or ""),
                               str(args.get("version") or ""), reason="MLflow API")
        else:
            registry.delete_alias(str(args["name"]), str(args.get("alias") or ""),
                                  reason="MLflow API")

    try:
        await asyncio.to_thread(change)
    except KilnError as e:
        await _refused(ws, user, scope, send, e)
        return
    await asyncio.to_thread(_audit, ws, user, scope, {"status": 200})
    await send_json(send, 200, {})


async def _refused(ws: Workspace, user: str, scope: dict[str, Any], send: Any,
                   e: KilnError) -> None:
    """The coded error as the answer, audited with the status it answers."""
    await asyncio.to_thread(_audit, ws, user, scope, {"status": HTTP_STATUS.get(e.code, 400),
                                                      "error_code": e.code})
    await reply_error(send, e)


def _args(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    if scope["method"] == "GET":
        from urllib.parse import parse_qs

        return {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode()).items()}
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _check(grants: Grants, op: str, method: str, name: Any) -> None:
    if op == "registered-models/alias":
        op = "registered-models/get" if method == "GET" else "registered-models/update"
    if not _uc(name):
        return  # a workspace model (no catalog): not the catalog's
    if op in _READ:
        grants.require_on("function", name, "EXECUTE")
    elif op in _MANAGE:
        grants.require_use(name)
        grants.require_manage("function", name)
    elif op == "registered-models/create":
        schema = ".".join(name.lower().split(".")[:2])
        grants.require_use(name)
        grants.require("schema", schema, "CREATE_MODEL")


def _filtering(send: Any, grants: Grants, key: str) -> Any:
    """A ``send`` that drops from a search's answer what the user may not read."""
    start: list[dict[str, Any]] = []
    chunks: list[bytes] = []

    async def filtered(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            start.append(msg)
            return
        chunks.append(msg.get("body", b""))
        if msg.get("more_body"):
            return
        body = b"".join(chunks)
        if start and start[0]["status"] == 200:
            doc = json.loads(body or b"{}")
            items = doc.get(key) or []
            kept = await asyncio.to_thread(lambda: [
                i for i in items if not _uc(i.get("name"))
                or grants.may("function", i["name"], "EXECUTE")])
            if kept or key in doc:
                doc[key] = kept
            body = json.dumps(doc).encode()
        head = start[0] if start else {"type": "http.response.start", "status": 200,
                                        "headers": []}
        headers = [(k, v) for k, v in head.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**head, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return filtered


def _audit(ws: Workspace, user: str, scope: dict[str, Any], detail: dict[str, Any]) -> None:
    client = scope.get("client") or ("", 0)
    ws.as_user(user).audit("api.request", f"{scope['method']} {scope['path']}",
                           {**detail, "client": f"{client[0]}:{client[1]}"})
