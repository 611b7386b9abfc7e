"""Running the serving app with uvicorn (httptools and uvloop when installed)."""

from __future__ import annotations

import importlib.util
import signal
import socket
import sys
from typing import Any, Callable

from kiln.errors import KilnError
from kiln.serving.app import ServingApp, TokenCache
from kiln.serving.metrics import Metrics
from kiln.serving.runtime import ServingRuntime
from kiln.workspace import Workspace


def build(ws: Workspace, only: list[str] | None = None, max_wait_s: float = 0.001,
          poll_s: float = 0.5) -> ServingApp:
    metrics = Metrics()
    runtime = ServingRuntime(ws, only=only, poll_s=poll_s, max_wait_s=max_wait_s,
                             metrics=metrics)
    runtime.start()
    return ServingApp(runtime, TokenCache(ws.user_for_token), metrics)


def bind(host: str, port: int) -> socket.socket:
    """The listening port, taken before anything loads, so that a busy one is said at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise KilnError(f"cannot serve on {host}:{port}: {e.strerror or e}",
                        detail="Another process uses that port: pick another with --port, "
                               "or --port 0 for a free one.") from None
    return sock


def run(app: Any, sock: socket.socket, host: str,
        announce: Callable[[str], object] | None = None,
        never_started: Callable[[], object] | None = None) -> None:
    """Serve ``app`` on the bound ``sock`` until SIGTERM or Ctrl-C (``never_started``:
    what to do should it stop before it started)."""
    import uvicorn

    # listening before the URL is announced: a client that connects at once waits in the
    # backlog until the app has started, instead of being refused
    sock.listen(2048)
    url = f"http://{host}:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on",
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        timeout_graceful_shutdown=30)
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: end with
    # status 0 then, as a service manager expects of a clean stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if announce is not None:
        announce(url)
    try:
        server.run(sockets=[sock])
    finally:
        if not server.started and never_started is not None:
            never_started()


def serve(ws: Workspace, host: str, port: int, only: list[str] | None = None,
          max_wait_s: float = 0.001, announce: Callable[[str], object] | None = None,
          wrap: Callable[[Any], Any] | None = None) -> None:
    """Serve the endpoints (``only`` some); ``wrap`` may put more routes in front."""
    sock = bind(host, port)
    app = build(ws, only, max_wait_s)
    if wrap is not None:
        app = wrap(app)
    # never started: still flush what was captured
    run(app, sock, host, announce, never_started=app.runtime.stop)
