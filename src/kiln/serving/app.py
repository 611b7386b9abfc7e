"""The serving HTTP API (ASGI): ``POST /serving-endpoints/{name}/invocations``,
``GET /serving-endpoints/{name}``, ``/health``, ``/ready`` and ``/metrics``.

Every invocation: bearer token → user (401), endpoint permission (403), body size (413),
rate limits (429), payload (400), route, batched predict, response, capture, metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable

import orjson

from kiln.serving.capture import Record
from kiln.serving.entities import Batcher
from kiln.serving.metrics import Metrics
from kiln.serving.payload import (
    PayloadError,
    Rows,
    conform,
    name_columns,
    parse,
    predictions_json,
)
from kiln.errors import KilnError
from kiln.serving.runtime import Endpoint, ServingRuntime

log = logging.getLogger("kiln.serving")
Send = Callable[[dict[str, Any]], Awaitable[None]]
PREFIX = "/serving-endpoints/"
MAX_BODY = 16 * 1024 * 1024


class TokenCache:
    """Bearer token → user, looked up in the workspace and remembered for a few seconds
    (revoked tokens stop working within ``ttl_s``)."""

    def __init__(self, lookup: Callable[[str], str | None], ttl_s: float = 5.0) -> None:
        self.lookup = lookup
        self.ttl_s = ttl_s
        self.cache: dict[str, tuple[float, str | None]] = {}

    def user(self, token: str) -> str | None:
        now = time.monotonic()
        hit = self.cache.get(token)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        user = self.lookup(token)
        if len(self.cache) > 10_000:
            self.cache.clear()
        self.cache[token] = (now, user)
        return user


class ServingApp:
    def __init__(self, runtime: ServingRuntime, tokens: TokenCache, metrics: Metrics,
                 max_body: int = MAX_BODY) -> None:
        self.runtime = runtime
        self.tokens = tokens
        self.metrics = metrics
        self.max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path.startswith(PREFIX):
            rest = path[len(PREFIX):]
            if rest.endswith("/invocations") and method == "POST":
                await self._invoke(rest[:-len("/invocations")], scope, receive, send)
                return
            if "/" not in rest and method == "GET":
                await self._describe(rest, scope, send)
                return
        if path == "/health":
            await _reply(send, 200, b'{"status":"OK"}')
        elif path == "/ready":
            ok = self.runtime.ready()
            await _reply(send, 200 if ok else 503,
                         b'{"status":"READY"}' if ok else b'{"status":"NOT_READY"}')
        elif path == "/metrics":
            await _reply(send, 200, self.metrics.render(), self.metrics.content_type)
        else:
            await _error(send, PayloadError(404, f"no route for {method} {path}", "NOT_FOUND"))

    async def _lifespan(self, receive: Any, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                self.runtime.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _authenticate(self, scope: dict[str, Any], ep: Endpoint | None) -> str:
        header = _header(scope, b"authorization")
        if not header or not header.lower().startswith("bearer "):
            raise PayloadError(401, "missing bearer token (Authorization: Bearer <token>)",
                               "UNAUTHENTICATED")
        user = self.tokens.user(header[7:].strip())
        if user is None:
            raise PayloadError(401, "invalid or expired token", "UNAUTHENTICATED")
        if ep is not None and ep.spec.allowed and user not in ep.spec.allowed and \
                user != ep.spec.creator:
            raise PayloadError(403, f"user {user} may not query endpoint {ep.spec.name}",
                               "PERMISSION_DENIED")
        return user

    async def _describe(self, name: str, scope: dict[str, Any], send: Send) -> None:
        try:
            self._authenticate(scope, None)
        except PayloadError as e:
            await _error(send, e)
            return
        doc = await asyncio.to_thread(self.runtime.ws.endpoint_state, name)
        if doc is None:
            await _error(send, PayloadError(404, f"serving endpoint {name} does not exist",
                                            "RESOURCE_DOES_NOT_EXIST"))
            return
        await _reply(send, 200, json.dumps(doc).encode())

    async def _invoke(self, name: str, scope: dict[str, Any], receive: Any,
                      send: Send) -> None:
        t0 = time.perf_counter()
        ep = self.runtime.endpoint(name)
        entity_name: str | None = None
        body = b""
        user = ""
        try:
            if ep is None:
                raise PayloadError(404, f"serving endpoint {name} does not exist or is not "
                                        "ready", "RESOURCE_DOES_NOT_EXIST")
            user = self._authenticate(scope, ep)
            body = await self._body(scope, receive)
            if not ep.limiter.allow(user):
                raise PayloadError(429, f"rate limit of endpoint {name} exceeded",
                                   "REQUEST_LIMIT_EXCEEDED")
            req = parse(body)
            entity_name = ep.router.pick(req.client_request_id)
            entity = ep.entities[entity_name]
            named = name_columns(req, entity.columns)  # every column sent: the unpacked table
            # a model that looks its features up takes the request as sent
            rows = named if entity.looks_features_up else \
                conform(named, entity.columns, entity.dtypes)  # keeps ids, event times
            try:
                values, scored = await self._batcher(ep, entity_name).predict(rows,
                                                                               req.params)
            except Exception as e:  # noqa: BLE001 - the model's own code failed
                raise PayloadError(400 if isinstance(e, (ValueError, TypeError, KeyError,
                                                         KilnError))
                                   else 500, f"the model failed: {str(e).splitlines()[0]}"
                                   if str(e) else type(e).__name__,
                                   "BAD_REQUEST") from None
            if scored is not None:  # the inference table logs the looked-up features too
                named = Rows(list(scored.columns), frame=scored)
            out = orjson.dumps({"predictions": predictions_json(values)},
                               option=orjson.OPT_SERIALIZE_NUMPY)
        except PayloadError as e:
            out = e.body()
            status = e.status
            await _reply(send, status, out)
            self._account(ep, name, entity_name, status, t0, body, out, user, None, None, None)
            return
        request_id = await _reply(send, 200, out, entity_name=entity.entity_id)
        self._account(ep, name, entity_name, 200, t0, body, out, user, req, named, values,
                      request_id, entity.entity_id)

    def _account(self, ep: Endpoint | None, name: str, entity_name: str | None, status: int,
                 t0: float, body: bytes, out: bytes, user: str, req: Any, rows: Any,
                 values: Any, request_id: str | None = None,
                 entity_id: str | None = None) -> None:
        elapsed = time.perf_counter() - t0
        self.metrics.observe(name, entity_name or "", status, elapsed)
        if ep is None or ep.capture is None or status in (401, 403, 404):
            return
        ep.capture.add(Record(
            request_id or uuid.uuid4().hex, req.client_request_id if req else None,
            int(time.time() * 1000), status, int(elapsed * 1000), body, out,
            entity_id or (f"{entity_name}" if entity_name else None), user, rows, values))

    def _batcher(self, ep: Endpoint, entity_name: str) -> Batcher:
        b = ep.batchers.get(entity_name)
        if b is None:
            b = ep.batchers[entity_name] = Batcher(ep.entities[entity_name], self.runtime.pool,
                                                   self.runtime.max_wait_s,
                                                   self.runtime.max_batch_rows)
        return b

    async def _body(self, scope: dict[str, Any], receive: Any) -> bytes:
        length = _header(scope, b"content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            raise PayloadError(413, f"the request body is {int(length)} bytes; the limit is "
                                    f"{self.max_body}", "REQUEST_TOO_LARGE")
        chunks = []
        size = 0
        while True:
            msg = await receive()
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadError(413, f"the request body is over the limit of "
                                        f"{self.max_body} bytes", "REQUEST_TOO_LARGE")
            chunks.append(chunk)
            if not msg.get("more_body"):
                return b"".join(chunks)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


async def _reply(send: Send, status: int, body: bytes,
                 content_type: bytes = b"application/json",
                 entity_name: str | None = None) -> str:
    request_id = uuid.uuid4().hex
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"x-request-id", request_id.encode())]
    if entity_name:
        headers.append((b"x-served-entity", entity_name.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return request_id


async def _error(send: Send, e: PayloadError) -> None:
    await _reply(send, e.status, e.body())
