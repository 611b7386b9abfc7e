"""The server's REST app on 127.0.0.1 in a thread of the test, over one workspace."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from kiln.server.api import build_router
from kiln.server.http import App


@contextlib.contextmanager
def rest_app(ws: Any) -> Iterator[str]:
    """The workspace's REST API on a free loopback port; its URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(App(build_router(ws), ws.token_owner),
                                           host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
