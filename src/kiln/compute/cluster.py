"""A workspace's Spark compute: one Spark Connect server, started on demand and shared.

The server is a process of its own (``kiln.compute.process``) that runs the embedded
engine and the catalog endpoint it reads table names from. Its state lives in
``<workspace>/compute/``: ``state.json`` (pid, ``sc://`` URL, catalogs) while it runs,
``server.log`` and ``clients/<pid>`` files, one per process using it, each naming the kiln
process it works for (its *anchor*: a run's runner, a ``kiln env`` session). The server
stops when no client is alive and no anchor is either, or after an idle timeout; so no
server outlives the kiln processes that used it, and a killed runner leaves none behind.
Stdlib only: task processes import this before they know whether they need Spark.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from kiln.errors import KilnError
from kiln.pids import alive
from kiln.workspace import layout

CLUSTER_ID = "embedded"
START_TIMEOUT_S = 60.0


def compute_dir(workspace_dir: str, user: str | None = None) -> str:
    """The workspace's shared compute, or ``user``'s own: a workspace with admins gives
    each user a compute of their own, whose catalog acts as that user (their grants hold
    for Spark's reads and writes)."""
    if user is None:
        return layout.compute_dir(workspace_dir)
    safe = hashlib.sha256(user.encode()).hexdigest()[:16]
    return os.path.join(layout.compute_dir(workspace_dir), "users", safe)


def log_path(workspace_dir: str, user: str | None = None) -> str:
    return os.path.join(compute_dir(workspace_dir, user), "server.log")


def status(workspace_dir: str, user: str | None = None) -> dict[str, Any] | None:
    """The running server's state (pid, url, catalogs, started_at, clients), or None."""
    try:
        with open(os.path.join(compute_dir(workspace_dir, user), "state.json"),
                  encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    if not alive(int(state.get("pid", 0))):
        return None
    state["clients"] = live_clients(workspace_dir, user)
    return state


def live_clients(workspace_dir: str, user: str | None = None) -> dict[int, int]:
    """``{client pid: anchor pid}`` for the processes using the server now."""
    d = os.path.join(compute_dir(workspace_dir, user), "clients")
    out: dict[int, int] = {}
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if not name.isdigit():
            continue
        path = os.path.join(d, name)
        try:
            with open(path, encoding="utf-8") as f:
                anchor = int(f.read().strip() or 0)
        except (OSError, ValueError):
            continue
        if alive(int(name)):
            out[int(name)] = anchor
        else:
            try:
                os.remove(path)
            except OSError:
                pass
    return out


def ensure(workspace_dir: str, *, client: int | None = None, anchor: int | None = None,
           python: str | None = None, user: str | None = None) -> dict[str, Any]:
    """The running server (``user``'s own, if given), started if needed; registers
    ``client`` (a pid) as its user. (A server whose workspace's catalogs changed stops
    itself once no process uses it, so the next start sees them by name.)"""
    d = compute_dir(workspace_dir, user)
    os.makedirs(os.path.join(d, "clients"), exist_ok=True)
    with open(os.path.join(d, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one start, however many tasks ask at once
        state = status(workspace_dir, user)
        if state is None:
            state = _start(workspace_dir, explicit=client is None, python=python, user=user)
        if client is not None:
            tmp = os.path.join(d, "clients", f".{client}.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(str(anchor or client))
            os.replace(tmp, os.path.join(d, "clients", str(client)))
    return state


def _start(workspace_dir: str, *, explicit: bool, python: str | None,
           user: str | None = None) -> dict[str, Any]:
    d = compute_dir(workspace_dir, user)
    state_file = os.path.join(d, "state.json")
    if os.path.exists(state_file):
        os.remove(state_file)
    with open(log_path(workspace_dir, user), "ab") as log:
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "kiln.compute.process", workspace_dir,
             *(["--explicit"] if explicit else []), *(["--user", user] if user else [])],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=d,
            start_new_session=True)  # not in a task's process group: tasks come and go
    t0 = time.monotonic()
    while time.monotonic() - t0 < START_TIMEOUT_S:
        state = status(workspace_dir, user)
        if state is not None:
            return state
        if proc.poll() is not None:
            raise KilnError(f"the Spark compute server of workspace "
                            f"{os.path.basename(workspace_dir)} did not start "
                            f"(exit status {proc.returncode})",
                            detail=log_tail(workspace_dir, user=user))
        time.sleep(0.02)
    proc.kill()
    raise KilnError(f"the Spark compute server did not start within {START_TIMEOUT_S:g} s",
                    detail=log_tail(workspace_dir, user=user))


def stop(workspace_dir: str, timeout_s: float = 10.0) -> bool:
    """Stop the server; False when none was running."""
    state = status(workspace_dir)
    if state is None:
        return False
    pid = int(state["pid"])
    try:
        os.kill(pid, signal.SIGTERM)
        t0 = time.monotonic()
        while alive(pid) and time.monotonic() - t0 < timeout_s:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.remove(os.path.join(compute_dir(workspace_dir), "state.json"))
    except OSError:
        pass
    return True


def log_tail(workspace_dir: str, lines: int = 20, user: str | None = None) -> str:
    try:
        with open(log_path(workspace_dir, user), encoding="utf-8", errors="replace") as f:
            return "\n".join(f.read().splitlines()[-lines:])
    except OSError:
        return ""


def describe(workspace_dir: str, name: str) -> dict[str, Any]:
    """The cluster as ``kiln clusters get`` shows it (Databricks' cluster fields where
    they apply)."""
    state = status(workspace_dir)
    doc: dict[str, Any] = {"cluster_id": CLUSTER_ID, "cluster_name": f"{name} (embedded Sail)",
                           "spark_version": "sail", "state": "TERMINATED"}
    if state is not None:
        doc.update(state="RUNNING", spark_connect_url=state["url"], pid=state["pid"],
                   start_time=state["started_at"], catalogs=state.get("catalogs") or [],
                   clients=sorted(state["clients"]))
    return doc
