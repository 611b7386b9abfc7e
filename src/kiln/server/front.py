"""Several workspaces on one port: ``kiln server -w dev -w prod``.

MLflow's tracking server, the serving runtime and the scheduler keep process-wide state,
so each workspace is served by a ``kiln server -w NAME`` process of its own on a loopback
port. This front process owns the public port and forwards each request, unchanged and
streamed both ways, to the process of the workspace whose token it carries: a token
belongs to exactly one workspace, as on Databricks a token belongs to one workspace's
host. The workspace's process then checks the token again (a revoked one stops there)
and answers as if it were called directly; ``X-Forwarded-For`` keeps the client's
address for its audit log.

A request without a token gets the front's ``/health``, or a 401; a token no workspace
knows, a 401; a workspace whose process has died, a 503 that says where its log is.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiln.errors import KilnError, Unauthenticated, Unavailable
from kiln.workspace.layout import serving_dir
from kiln.server.http import (HOST_METADATA, authenticate, bearer_token, host_metadata,
                              reply_error, send_json)

# headers that describe one connection, not the message: never forwarded
_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade",
        b"te", b"trailer", b"host"}


@dataclass
class Backend:
    """One workspace's own server process."""

    name: str
    directory: str
    proc: subprocess.Popen[bytes]
    url: str = ""


def _die_with_parent() -> None:
    """In the child, before exec: a SIGTERM when the front process dies, however it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_backends(names: list[str], directories: dict[str, str], args: list[str],
                   url_of: Callable[[str], tuple[str, int] | None],
                   timeout_s: float = 120) -> list[Backend]:
    """A ``kiln server -w NAME`` per workspace on 127.0.0.1, once each serves (``url_of``
    reads the URL and pid a workspace's server announced)."""
    backends = []
    for name in names:
        log = open(os.path.join(serving_dir(directories[name]), "front-child.log"), "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiln", "server", "-w", name, "--host", "127.0.0.1",
             "--port", "0", *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=_die_with_parent)
        log.close()
        backends.append(Backend(name, directories[name], proc))
    deadline = time.monotonic() + timeout_s
    for b in backends:
        while not b.url:
            announced = url_of(b.name)
            if announced is not None and announced[1] == b.proc.pid:
                b.url = announced[0]
            elif b.proc.poll() is not None or time.monotonic() > deadline:
                stop_backends(backends)
                raise KilnError(f"the server of workspace {b.name} did not start",
                                detail="see " + os.path.join(serving_dir(b.directory),
                                                             "front-child.log"))
            else:
                time.sleep(0.1)
    return backends


def stop_backends(backends: list[Backend]) -> None:
    for b in backends:
        if b.proc.poll() is None:
            b.proc.send_signal(signal.SIGTERM)
    for b in backends:
        try:
            b.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            b.proc.kill()


def front_app(backends: list[Backend], owner_of: Callable[[str], str | None]) -> Any:
    """The ASGI app of the public port. ``owner_of(token)`` names the workspace that issued
    ``token`` (None: none did); the answer is remembered by the token's hash."""
    import httpx

    by_name = {b.name: b for b in backends}
    owners: dict[str, str] = {}
    client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10),
                               limits=httpx.Limits(max_connections=1024,
                                                   max_keepalive_connections=256))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == HOST_METADATA:
            await send_json(send, 200, host_metadata())
            return
        if scope["path"] == "/health" and bearer_token(scope) is None:
            down = [b.name for b in backends if b.proc.poll() is not None]
            await send_json(send, 503 if down else 200,
                            {"status": "unavailable" if down else "ok",
                             "workspaces": {b.name: b.proc.poll() is None for b in backends}})
            return
        token = bearer_token(scope)
        key = hashlib.sha256(token.encode()).hexdigest() if token else ""
        name = owners.get(key)
        if name is None:
            try:  # the workspace that issued the token (the same 401s as a server's)
                name = await asyncio.to_thread(authenticate, scope, owner_of)
            except Unauthenticated as e:
                await reply_error(send, e)
                return
            owners[key] = name
        backend = by_name[name]
        if backend.proc.poll() is not None:
            await reply_error(send, Unavailable(
                f"the server of workspace {name} has stopped (exit code "
                f"{backend.proc.returncode}); see "
                f"{os.path.join(backend.directory, 'serving', 'server.log')}"))
            return
        try:
            await _forward(client, backend, scope, receive, send)
        except Unavailable as e:  # it stopped between the check and the call
            await reply_error(send, e)

    return app


async def _forward(client: Any, backend: Backend, scope: dict[str, Any], receive: Any,
                   send: Any) -> None:
    """The request to the workspace's server, its answer back; ``Unavailable`` when that
    server does not take the request (nothing has been answered then)."""
    import httpx

    async def body() -> Any:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            if msg.get("body"):
                yield msg["body"]
            if not msg.get("more_body"):
                return

    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
    client_addr = scope.get("client")
    if client_addr:
        headers.append((b"x-forwarded-for", client_addr[0].encode()))
    url = backend.url + scope.get("raw_path", scope["path"].encode()).decode()
    if scope.get("query_string"):
        url += "?" + scope["query_string"].decode()
    request = client.build_request(scope["method"], url, headers=headers,
                                   content=body() if scope["method"] not in ("GET", "HEAD")
                                   else None)
    try:
        response = await client.send(request, stream=True)
    except httpx.TransportError as e:
        raise Unavailable(f"the server of workspace {backend.name} does not answer "
                          f"({type(e).__name__}); see "
                          f"{os.path.join(backend.directory, 'serving', 'server.log')}"
                          ) from None
    try:
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw
                                if k.lower() not in _HOP]})
        async for chunk in response.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await response.aclose()


def announced(raw: str | None) -> tuple[str, int] | None:
    """The URL and pid a workspace's server recorded (``kiln.cli.serving``)."""
    if not raw:
        return None
    try:
        doc = json.loads(raw)
        return str(doc["url"]), int(doc["pid"])
    except (ValueError, KeyError, TypeError):
        return None
