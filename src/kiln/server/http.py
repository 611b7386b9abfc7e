"""The HTTP edge of ``kiln server``: a small ASGI app that routes requests to handlers,
authenticates bearer tokens, and turns kiln's coded errors into Databricks' error bodies
(``{"error_code": ..., "message": ...}`` with ``kiln.errors.HTTP_STATUS``).

Handlers are plain functions ``(request) -> JSON-able``; they run in a worker thread (the
services they call do blocking I/O).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qs

import orjson

from kiln.errors import HTTP_STATUS, ErrorCode, KilnError, Unauthenticated
from kiln.workspace.api import TokenOwner

MAX_BODY = 16 * 1024 * 1024
T = TypeVar("T")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: dict[str, Any]
    user: str = ""
    params: dict[str, str] = field(default_factory=dict)  # from the route's pattern
    raw: bytes = b""  # an application/octet-stream body (the Files API's)
    run_id: int | None = None  # a job run's own token: its run

    def arg(self, name: str, default: Any = None, kind: type = str) -> Any:
        """A parameter from the query string, else the JSON body."""
        if name in self.query:
            value: Any = self.query[name][0]
        elif name in self.body:
            value = self.body[name]
        else:
            return default
        if value is None:  # JSON null: not given
            return default
        if kind is bool:
            return _flag(name, value)
        if kind is str and not isinstance(value, str):
            raise KilnError(f"invalid value for {name}: a string is needed, not {value!r}")
        if kind in (list, dict):
            if not isinstance(value, kind):
                raise KilnError(f"invalid value for {name}: a JSON "
                                f"{'array' if kind is list else 'object'} is needed")
            return value
        try:
            out = kind(value)
        except (TypeError, ValueError):
            raise KilnError(f"invalid value for {name}: {value!r}") from None
        if kind is int and not -2**63 <= out < 2**63:
            raise KilnError(f"invalid value for {name}: {value!r} is out of range")
        return out

    def required(self, name: str, kind: type = str) -> Any:
        value = self.arg(name, None, kind)
        if value is None:
            raise KilnError(f"missing required parameter: {name}")
        return value


def _flag(name: str, value: Any) -> bool:
    """A JSON boolean, or ``true``/``false`` in a query string."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise KilnError(f"invalid value for {name}: {value!r} (true or false)")


Handler = Callable[[Request], Any]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"\Z"), handler))

    def find(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        allowed = False
        for m, rx, handler in self.routes:
            hit = rx.match(path)
            if hit is not None:
                if m == method:
                    return handler, hit.groupdict()
                allowed = True
        if allowed:
            raise KilnError(f"method {method} is not allowed on {path}")
        return None


Audit = Callable[[str, str, dict[str, Any]], None]  # (user, action, detail)


class App:
    """Every mutating request (not GET) is audited once it is answered: who (the token's
    user), what (method and path), from where (the client's address) and the result (the
    status, and the error code if it failed)."""

    def __init__(self, router: Router, token_owner: Callable[[str], TokenOwner | None],
                 audit: Audit | None = None) -> None:
        self.router = router
        self.token_owner = token_owner
        self.audit = audit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        who: list[str] = []  # the user, once the token says who
        try:
            status, doc = 200, await self._handle(scope, receive, who)
        except KilnError as e:
            status, doc = HTTP_STATUS.get(e.code, 400), error_body(e)
        except Exception as e:  # noqa: BLE001 - a bug answers 500, never a dropped connection
            logging.getLogger("kiln.serving").exception("%s %s failed", scope.get("method"),
                                                        scope.get("path"))
            status, doc = 500, {"error_code": ErrorCode.INTERNAL_ERROR,
                                "message": f"internal error: {type(e).__name__}"}
        if self.audit is not None and scope["method"] != "GET" and who:
            client = scope.get("client") or ("", 0)
            detail = {"status": status, "client": f"{client[0]}:{client[1]}"}
            if status >= 400:
                detail["error_code"] = doc["error_code"]
            await asyncio.to_thread(self.audit, who[0], f"{scope['method']} {scope['path']}",
                                    detail)
        await send_json(send, status, doc if doc is not None else {})

    async def _handle(self, scope: dict[str, Any], receive: Any, who: list[str]) -> Any:
        path, method = scope["path"], scope["method"]
        if path == "/health":
            return {"status": "OK"}
        found = self.router.find(method, path)
        if found is None:
            from kiln.errors import NotFound

            raise NotFound(f"no API at {method} {path}")
        handler, params = found
        owner = self._authenticate(scope)
        user = owner.user
        who.append(user)
        raw = await _read_body(receive)
        content_type = _header(scope, b"content-type")
        if content_type.startswith("application/octet-stream"):
            body: Any = {}
        else:
            try:
                body, raw = (orjson.loads(raw) if raw.strip() else {}), b""
            except orjson.JSONDecodeError:
                raise KilnError("the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise KilnError("the request body must be a JSON object")
        request = Request(method, path, parse_qs(scope.get("query_string", b"").decode()),
                          body, user, params, raw, run_id=owner.run_id)
        return await asyncio.to_thread(handler, request)

    def _authenticate(self, scope: dict[str, Any]) -> TokenOwner:
        return authenticate(scope, self.token_owner)


def _header(scope: dict[str, Any], name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == name), "")


# what Databricks' clients ask a host before they authenticate (the SDK's "host metadata")
HOST_METADATA = "/.well-known/databricks-config"


def host_metadata() -> dict[str, Any]:
    """The host's metadata: none of Databricks' OIDC, account or cloud settings apply, so
    the clients keep the configuration they were given (a token)."""
    return {}


def bearer_token(scope: dict[str, Any]) -> str | None:
    """The request's bearer token (``Authorization: Bearer <token>``), if it has one."""
    header = _header(scope, b"authorization")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def authenticate(scope: dict[str, Any], lookup: Callable[[str], T | None]) -> T:
    """What ``lookup`` says of the request's bearer token (its user, its owner, the
    workspace that issued it), or ``Unauthenticated``."""
    token = bearer_token(scope)
    if token is None:
        raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)")
    found = lookup(token)
    if found is None:
        raise Unauthenticated("invalid, expired or revoked token")
    return found


def error_body(e: KilnError) -> dict[str, Any]:
    """Databricks' error body of a coded error; the error's kind (``LockHeld``, ...) is the
    reason of its ErrorInfo detail, so that kiln's own client raises the same kind."""
    return {"error_code": e.code, "message": e.summary,
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                         "reason": type(e).__name__, "domain": "kiln"}]}


async def reply_error(send: Any, e: KilnError) -> None:
    await send_json(send, HTTP_STATUS.get(e.code, 400), error_body(e))


async def send_json(send: Any, status: int, doc: Any) -> None:
    """A JSON reply; a handler's ``bytes`` go out as they are (the Files API's)."""
    raw = isinstance(doc, bytes)
    try:
        body = doc if raw else orjson.dumps(doc)
    except (TypeError, orjson.JSONEncodeError) as e:  # a bug: an answer JSON cannot hold
        logging.getLogger("kiln.serving").error("cannot encode an answer: %s", e)
        status, body = 500, orjson.dumps({"error_code": ErrorCode.INTERNAL_ERROR,
                                          "message": "internal error: the answer cannot be "
                                                     "encoded"})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/octet-stream" if raw
                             else b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Any) -> bytes:
    chunks, size = [], 0
    while True:
        msg = await receive()
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise KilnError(f"the request body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        if not msg.get("more_body"):
            return b"".join(chunks)
