"""A fork server for task processes: one process that has imported the task runtime and
forks a fresh process for each task, so a task starts in about a millisecond instead of
the ~40 ms of a new interpreter and its imports.

Each task still gets what a process of its own gives: its own process and process group
(``setsid``, so that cancel and timeout kill its whole tree), its own environment (the
runner's, set whole in the child), its own working directory and standard streams (its
log files). The server is single-threaded (forking a threaded process is unsafe), imports
nothing that starts threads (no numpy, no pandas), and exits when the process that
started it goes, taking its tasks with it (each task watches its parent, as before).

The protocol is JSON lines: the runner writes ``{"id", "spec", "task_dir", "env"}`` to the
server's stdin; the server answers ``{"id", "pid"}`` (or ``{"id", "error"}``) and, when
the task's process ends, ``{"pid", "status"}`` (its exit status, or minus the signal).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
from typing import Any

# what a task's main needs, imported once here rather than in every task
PRELOAD = ("kiln.jobs.runtime.task", "kiln.compute.spark", "kiln.importhooks",
           "kiln.jobs.runtime.logs", "kiln.shims", "runpy", "traceback")
# (not the workspace's store: SQLAlchemy would cost every run's fork server ~0.15 s, and
# only the tasks that read secrets or start Spark need it; under bench_server_load's 50
# clients preloading it took the server from 158 to 93 requests/s)


# the server --------------------------------------------------------------------------
def serve() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    parent = os.getppid()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    requests = sys.stdin.buffer
    pending = b""
    while True:
        ready, _, _ = select.select([requests, wake_r], [], [], 0.5)
        if os.getppid() != parent:  # the runner is gone: so are we
            return
        if wake_r in ready:
            os.read(wake_r, 512)
        _reap()
        if requests not in ready:
            continue
        chunk = os.read(requests.fileno(), 65536)
        if not chunk:  # the runner closed the pipe
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            _start(json.loads(line), (wake_r, wake_w))
        _reap()


def _start(req: dict[str, Any], wake: tuple[int, int]) -> None:
    try:
        out = os.open(os.path.join(req["task_dir"], "stdout.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        err = os.open(os.path.join(req["task_dir"], "stderr.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as e:
        _reply({"id": req["id"], "error": str(e)})
        return
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:  # the task's process
        code = 1
        try:
            os.setsid()
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in wake:
                os.close(fd)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out, 1)
            os.dup2(err, 2)
            for fd in (devnull, out, err):
                os.close(fd)
            os.environ.clear()
            os.environ.update(req["env"])
            from kiln.jobs.runtime import task

            sys.argv = [task.__file__, req["spec"]]
            code = task.main(req["spec"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 - the task runtime's own failure
            import traceback

            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(out)
    os.close(err)
    _reply({"id": req["id"], "pid": pid})


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _reply({"pid": pid, "status": os.waitstatus_to_exitcode(status)})


def _reply(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


# the runner's side ---------------------------------------------------------------------
class Child:
    """A task process the server forked: ``poll()`` as ``Popen.poll``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.ended = threading.Event()

    def poll(self) -> int | None:
        return self.returncode if self.ended.is_set() else None

    def wait_for(self, seconds: float) -> bool:
        """Whether it ended within ``seconds``."""
        return self.ended.wait(seconds)

    def kill_tree(self) -> None:
        """Kill its process group and wait until the server has seen it end."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.ended.wait(30)


class ForkServer:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "kiln.jobs.forkserver"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=False)
        self.lock = threading.Lock()
        self.next_id = 0
        self.started: dict[int, tuple[threading.Event, list[Any]]] = {}
        self.children: dict[int, Child] = {}
        threading.Thread(target=self._read, name="forkserver", daemon=True).start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, spec_path: str, task_dir: str, env: dict[str, str]) -> Child:
        done: threading.Event = threading.Event()
        box: list[Any] = []
        with self.lock:
            self.next_id += 1
            rid = self.next_id
            self.started[rid] = (done, box)
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"id": rid, "spec": spec_path,
                                              "task_dir": task_dir, "env": env}).encode()
                                  + b"\n")
            self.proc.stdin.flush()
        if not done.wait(30) or not box:
            raise OSError("the task fork server did not answer")
        if isinstance(box[0], str):
            raise OSError(box[0])
        return box[0]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            doc = json.loads(line)
            with self.lock:
                if "id" in doc:
                    done, box = self.started.pop(doc["id"])
                    if "error" in doc:
                        box.append(doc["error"])
                    else:
                        child = Child(doc["pid"])
                        self.children[child.pid] = child
                        box.append(child)
                    done.set()
                else:
                    child = self.children.pop(doc["pid"], None)
                    if child is not None:
                        child.returncode = doc["status"]
                        child.ended.set()
        with self.lock:  # the server is gone: every task it had is over
            for child in self.children.values():
                child.returncode = child.returncode if child.returncode is not None else -9
                child.ended.set()
            self.children.clear()
            for done, box in self.started.values():
                done.set()


_server: ForkServer | None = None
_server_lock = threading.Lock()


def shared() -> ForkServer | None:
    """This process's fork server, started on first use (None when turned off with
    ``KILN_FORKSERVER=0``)."""
    global _server
    if os.environ.get("KILN_FORKSERVER", "1") == "0":
        return None
    with _server_lock:
        if _server is None or not _server.alive():
            _server = ForkServer()
        return _server


if __name__ == "__main__":
    serve()
