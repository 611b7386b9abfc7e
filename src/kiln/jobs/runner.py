"""Running one task attempt in its own process, with a timeout and captured logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from kiln.jobs.states import CANCELED, FAILED, SUCCESS, TIMEDOUT


@dataclass
class Attempt:
    result_state: str
    exit_value: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_trace: str | None = None
    duration_ms: int = 0
    secrets_used: list[tuple[str, str]] = field(default_factory=list)


def run_process(spec: dict[str, Any], task_dir: str, timeout_s: float | None,
                cancelled: Any = None, server: tuple[str, str] | None = None) -> Attempt:
    """Run ``spec`` (see ``kiln.jobs.runtime.task``); logs go to ``task_dir``. With
    ``server`` (a kiln server's URL and a token of the run's identity) the task reaches its
    workspace through that server (``workspace_env``)."""
    os.makedirs(task_dir, exist_ok=True)
    spec = {**spec, "output": os.path.join(task_dir, "output.json")}
    spec_path = os.path.join(task_dir, "spec.json")
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    if os.path.exists(spec["output"]):
        os.remove(spec["output"])
    t0 = time.monotonic()
    env = {"MLFLOW_LOGGING_LEVEL": "WARNING",  # see runtime.logs
           **os.environ, "PYTHONUNBUFFERED": "1",
           **workspace_env(spec.get("workspace_dir"), server),
           **task_context_env(spec.get("context"))}
    proc = _launch(spec, spec_path, task_dir, env)
    state = None
    while not proc.wait_for(0.01):
        if timeout_s and time.monotonic() - t0 > timeout_s:
            state = TIMEDOUT
        elif cancelled is not None and cancelled.is_set():
            state = CANCELED
        if state:
            proc.kill_tree()
            break
    duration = int((time.monotonic() - t0) * 1000)
    if state or not os.path.exists(spec["output"]):  # stopped or died: no MLflow leftovers
        _close_mlflow_runs(spec, task_dir)
    if state == TIMEDOUT:
        return Attempt(TIMEDOUT, error=f"timed out after {timeout_s:g} seconds",
                       duration_ms=duration)
    if state == CANCELED:
        return Attempt(CANCELED, error="canceled", duration_ms=duration)
    try:
        with open(spec["output"], encoding="utf-8") as f:
            out_doc = json.load(f)
    except (OSError, ValueError):
        return Attempt(FAILED, error=f"the task process ended with status {proc.returncode} "
                                     "before reporting a result", duration_ms=duration)
    return Attempt(SUCCESS if out_doc.get("state") == SUCCESS else FAILED,
                   out_doc.get("exit_value"), out_doc.get("values") or {},
                   out_doc.get("error"), out_doc.get("error_trace"), duration,
                   [tuple(x) for x in out_doc.get("secrets_used") or []])


def _close_mlflow_runs(spec: dict[str, Any], task_dir: str) -> None:
    """A stopped task's MLflow runs end KILLED and its unfinished model versions go
    (``kiln.models.interrupted``); what was done is the last lines of its stderr."""
    context, workspace_dir = spec.get("context"), spec.get("workspace_dir")
    if not context or not workspace_dir:
        return
    from kiln.models.interrupted import close_task_runs

    try:
        lines = close_task_runs(workspace_dir, context["run_id"], context["task_key"]).lines()
    except Exception as e:  # noqa: BLE001 - the task's own outcome must still be recorded
        lines = [f"could not end the stopped task's MLflow runs: {type(e).__name__}: {e}"]
    if lines:
        with open(os.path.join(task_dir, "stderr.log"), "a", encoding="utf-8") as f:
            f.write("".join(f"kiln: {line}\n" for line in lines))


def redact_logs(task_dir: str, secrets: list[str]) -> None:
    """Scrub secret values from a task's logs (what its child processes printed too)."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return
    for name in ("stdout.log", "stderr.log"):
        path = os.path.join(task_dir, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        scrubbed = text
        for s in secrets:
            scrubbed = scrubbed.replace(s, "[REDACTED]")
        if scrubbed != text:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(scrubbed)
            os.replace(tmp, path)


def workspace_env(workspace_dir: str | None, server: tuple[str, str] | None = None
                  ) -> dict[str, str]:
    """What task code needs to find its workspace: the catalog (``kiln.tables``) and the
    MLflow tracking and registry URIs: the workspace's store, or with ``server`` (URL,
    token) the kiln server's MLflow door, which checks the token's privileges."""
    if not workspace_dir:
        return {}
    from kiln.models.store import ensure_store, mlflow_env

    ensure_store(workspace_dir)
    env = {**mlflow_env(workspace_dir), "KILN_WORKSPACE_DIR": workspace_dir}
    if server is not None:
        url, token = server
        # MLflow, the task's workspace client and Databricks' own SDK (WorkspaceClient()
        # with no arguments, as in a Databricks notebook) all reach the server as the run
        env.update({"MLFLOW_TRACKING_URI": url, "MLFLOW_REGISTRY_URI": url,
                    "MLFLOW_TRACKING_TOKEN": token, "KILN_SERVER_URL": url,
                    "DATABRICKS_HOST": url, "DATABRICKS_TOKEN": token})
    return env


def task_context_env(context: dict[str, Any] | None) -> dict[str, str]:
    """Who and what a task process runs for: kiln's variables, and MLflow run tags so that
    every MLflow run a task starts names its job run (lineage from model to data)."""
    if not context:
        return {}
    tags = {"kiln.job_id": str(context["job_id"]), "kiln.job_run_id": str(context["run_id"]),
            "kiln.task_key": context["task_key"], "kiln.workspace": context["workspace"]}
    return {"KILN_JOB_ID": str(context["job_id"]), "KILN_JOB_RUN_ID": str(context["run_id"]),
            "KILN_TASK_KEY": context["task_key"], "KILN_USER": context["user"],
            "MLFLOW_RUN_CONTEXT": json.dumps(tags)}


def _launch(spec: dict[str, Any], spec_path: str, task_dir: str, env: dict[str, str]) -> Any:
    """The task's process: forked by the fork server (the runtime already imported) when
    the task runs on kiln's own interpreter, else a new interpreter. Either way its own
    process group, environment, working directory and log files."""
    python = spec.get("python") or sys.executable
    if python == sys.executable:
        from kiln.jobs import forkserver

        server = forkserver.shared()
        if server is not None:
            try:
                return server.spawn(spec_path, task_dir, env)
            except OSError:  # the server is gone: a new interpreter, as without one
                pass
    with open(os.path.join(task_dir, "stdout.log"), "ab") as out, \
            open(os.path.join(task_dir, "stderr.log"), "ab") as err:
        return _Process(subprocess.Popen(
            [python, "-m", "kiln.jobs.runtime.task", spec_path], stdout=out, stderr=err,
            stdin=subprocess.DEVNULL, env=env,
            start_new_session=True))  # its own process group: kill the tree


class _Process:
    """A task in a new interpreter, with the fork server's ``Child`` interface."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def wait_for(self, seconds: float) -> bool:
        try:
            self.proc.wait(seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill_tree(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
