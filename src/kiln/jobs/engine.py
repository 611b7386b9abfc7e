"""Executing a job run: the task DAG, in parallel, with retries and timeouts.

The engine decides (``kiln.jobs.dag``), runs each notebook or Python task in its own
process (``kiln.jobs.runner``), evaluates condition tasks and starts ``run_job_task`` runs
itself, and records every state change in the workspace as a Jobs API ``runs/get``
document, so ``kiln runs get`` shows a run while it happens. It reports progress as
events; it knows nothing about terminals.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any, Iterator

from kiln.errors import KilnError
from kiln.events import Event, Listener, ignore
from kiln.jobs import condition, states
from kiln.jobs.dag import Result, in_order, run_result, settle
from kiln.jobs.environments import environment_python, requirements
from kiln.jobs.params import RunContext, substitute
from kiln.jobs.runner import Attempt, redact_logs, run_process
from kiln.notebook import find_notebook
from kiln.workspace import Workspace

PROCESS_TASKS = ("notebook_task", "spark_python_task", "python_wheel_task")


def _now() -> int:
    return int(time.time() * 1000)


class Engine:
    def __init__(self, ws: Workspace, emit: Listener = ignore, workers: int = 4,
                 env_cache: str | None = None, server_url: str | None = None) -> None:
        self.ws = ws
        self.emit = emit
        self.workers = max(1, workers)
        # runs started by a kiln server: their tasks reach it as the run (_server_access)
        self.server_url = server_url
        # task environments live in the workspace, next to its runs
        root = ws.local_root()
        if env_cache is None and root is None:
            raise KilnError(f"workspace {ws.name} is not on this machine: runs need a "
                            "local workspace")
        self.env_cache = env_cache or os.path.join(root, "task-envs")  # type: ignore[arg-type]

    def run_now(self, job_id: int, job_parameters: dict[str, str] | None = None,
                python_params: list[str] | None = None) -> dict[str, Any]:
        job = self.ws.get("jobs", str(job_id))
        return _Run(self, int(job_id), job.settings, job_parameters or {},
                    python_params, owner=job.creator).execute()

    def submit(self, job_id: int, job_parameters: dict[str, str] | None = None,
               python_params: list[str] | None = None) -> int:
        """Record a PENDING run for another process to ``execute`` (``--no-wait``)."""
        job = self.ws.get("jobs", str(job_id))
        return _Run(self, int(job_id), job.settings, job_parameters or {}, python_params,
                    owner=job.creator).run_id

    def execute(self, run_id: int) -> dict[str, Any]:
        """Execute a run recorded by ``submit``; this process becomes its runner."""
        doc = self.ws.get_run(run_id)
        if doc["state"]["life_cycle_state"] != states.PENDING:
            raise KilnError(f"run {run_id} is {doc['state']['life_cycle_state']}, not PENDING")
        self.ws.adopt_run(run_id)
        job = self.ws.get("jobs", str(doc["job_id"]))
        params = {p["name"]: p["value"] for p in doc.get("job_parameters", [])}
        return _Run(self, int(doc["job_id"]), job.settings, params, doc.get("python_params"),
                    run_id=run_id, start=doc["start_time"], owner=job.creator,
                    starter=doc.get("creator_user_name")).execute()


class _Run:
    def __init__(self, engine: Engine, job_id: int, settings: dict[str, Any],
                 overrides: dict[str, str], python_params: list[str] | None,
                 run_id: int | None = None, start: int | None = None, owner: str = "",
                 starter: str | None = None) -> None:
        self.e = engine
        # who the run's tasks act as: the job's run_as identity, else its owner (as on
        # Databricks), else whoever started it
        run_as = settings.get("run_as") or {}
        self.identity = (run_as.get("user_name") or run_as.get("service_principal_name")
                         or owner or engine.ws.current_user())
        self.ws = engine.ws.as_user(self.identity)
        self.job_id = job_id
        self.settings = settings
        self.tasks = {t["task_key"]: t for t in in_order(settings.get("tasks") or [])}
        defaults = {p["name"]: p.get("default", "") for p in settings.get("parameters") or []}
        unknown = sorted(set(overrides) - set(defaults))
        if unknown and defaults:
            raise KilnError("unknown job parameters: " + ", ".join(unknown),
                            detail="The job defines: " + ", ".join(sorted(defaults)))
        self.parameters = {**defaults, **overrides}
        self.python_params = python_params
        self.lock = threading.Lock()
        self.cancel = threading.Event()
        self.results: dict[str, Result] = {}
        self.finished = False
        self.canceled_by_user = False
        self.values: dict[str, dict[str, Any]] = {}
        start = start or _now()
        self.doc: dict[str, Any] = {
            "job_id": job_id, "run_name": settings.get("name", ""), "start_time": start,
            "creator_user_name": starter or engine.ws.current_user(),
            "run_as_user_name": self.identity,
            "state": {"life_cycle_state": states.PENDING, "state_message": ""},
            "job_parameters": [{"name": k, "value": v} for k, v in self.parameters.items()],
            "tasks": [{"task_key": k, "state": {"life_cycle_state": states.PENDING},
                       "attempt_number": 0} for k in self.tasks],
            **({"python_params": python_params} if python_params is not None else {}),
        }
        self.interrupted = False  # Ctrl-C or SIGTERM on the runner
        # a server's run: its URL and the run's own token (``_server_access``)
        self.server: tuple[str, str] | None = None
        self.run_id = run_id if run_id is not None else self.ws.create_run(job_id, self.doc)
        self.doc["run_id"] = self.run_id
        self.doc["run_page_url"] = self.ws.url("runs", str(self.run_id))
        self.ctx = RunContext(job_id, self.run_id, settings.get("name", ""), start,
                              self.parameters, self.values, workspace=self.ws.name)

    # bookkeeping --------------------------------------------------------------------
    def _task_doc(self, key: str) -> dict[str, Any]:
        return next(t for t in self.doc["tasks"] if t["task_key"] == key)

    def _set_task(self, key: str, **fields: Any) -> None:
        with self.lock:
            self._task_doc(key).update(fields)
            self.ws.update_run(self.run_id, self.doc)
        st = fields.get("state")
        if st:
            label = st.get("result_state") or st["life_cycle_state"]
            self.e.emit(Event("task", f"[{key}] {label}",
                              {"run_id": self.run_id, "task_key": key, **st}))

    # the DAG loop --------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        try:
            with self._server_access():
                return self._execute()
        except BaseException as err:
            with self.lock:
                self.doc["state"] = {"life_cycle_state": states.INTERNAL_ERROR,
                                     "result_state": states.FAILED,
                                     "state_message": f"{type(err).__name__}: {err}"}
                self.doc["end_time"] = _now()
                self.ws.update_run(self.run_id, self.doc)
            raise

    @contextlib.contextmanager
    def _server_access(self) -> Iterator[None]:
        """For a run a kiln server started: a token of the run's identity for its tasks,
        which reach MLflow through the server with it (so the registry's privileges hold
        for task code as for any client), revoked when the run ends. It expires on its own
        (after the job's timeout, else a week) should this runner die first."""
        if not self.e.server_url:
            yield
            return
        timeout = int(self.settings.get("timeout_seconds") or 0)
        lifetime = timeout + 3600 if timeout else 7 * 86400
        token_id, value = self.ws.create_token(self.identity, f"job run {self.run_id}",
                                               lifetime, run_id=self.run_id)
        self.server = (self.e.server_url, value)
        try:
            yield
        finally:
            self.server = None
            self.ws.delete_token(token_id)

    def _start(self) -> bool:
        """Wait for a slot under ``max_concurrent_runs`` (queue) or give up (skip)."""
        limit = int(self.settings.get("max_concurrent_runs") or 1)
        queue = (self.settings.get("queue") or {}).get("enabled", False)
        announced = False
        while not self.ws.claim_run_slot(self.run_id, self.job_id, limit):
            if not queue:
                message = (f"Skipping this run because the limit of {limit} maximum concurrent "
                           "runs has been reached.")
                self.doc["state"] = {"life_cycle_state": states.SKIPPED,
                                     "result_state": "MAXIMUM_CONCURRENT_RUNS_REACHED",
                                     "state_message": message}
                self.doc["end_time"] = _now()
                self.ws.update_run(self.run_id, self.doc)
                self.e.emit(Event("done", f"Run {self.run_id} SKIPPED: {message}"))
                return False
            if not announced:
                self.doc["state"] = {"life_cycle_state": states.QUEUED,
                                     "state_message": f"queued: {limit} run(s) of this job active"}
                self.ws.update_run(self.run_id, self.doc)
                self.e.emit(Event("queued", f"Run {self.run_id} QUEUED ({limit} run(s) of "
                                            "this job active)"))
                announced = True
            if self.ws.cancel_requested(self.run_id):
                self.canceled_by_user = True
                return True  # ends at once: nothing starts after a cancel
            time.sleep(0.2)
        self.doc["state"] = {"life_cycle_state": states.RUNNING, "state_message": ""}
        self.ws.update_run(self.run_id, self.doc)
        return True

    def _execute(self) -> dict[str, Any]:
        self.e.emit(Event("run", f"Run URL: {self.doc['run_page_url']}",
                          {"run_id": self.run_id}))
        if not self._start():
            return self.doc
        if self.canceled_by_user:
            self.cancel.set()
        timeout = self.settings.get("timeout_seconds") or 0
        deadline = time.monotonic() + timeout if timeout else None
        running: dict[Future[Result], str] = {}
        watcher = threading.Thread(target=self._watch_cancel, daemon=True)
        watcher.start()
        with ThreadPoolExecutor(max_workers=self.e.workers) as pool:
            try:
                self._loop(pool, running, deadline, timeout)
            except KeyboardInterrupt:
                # Ctrl-C or SIGTERM on the runner: a cancel. The running tasks are killed
                # (their runners watch self.cancel) and every task ends in a final state.
                self.interrupted = True
                self.cancel.set()
                self._drain(running)
                for key in self.tasks:
                    if key not in self.results:
                        self.results[key] = Result(states.CANCELED)
                        self._set_task(key, state={"life_cycle_state": states.SKIPPED,
                                                   "result_state": states.CANCELED})
        self.finished = True
        final = run_result(self.results)
        if self.interrupted:
            final = states.CANCELED
            self.doc["state"]["state_message"] = "canceled: the runner was interrupted"
        elif self.cancel.is_set() and self.canceled_by_user:
            final = states.CANCELED
            self.doc["state"]["state_message"] = "canceled on request"
        elif self.cancel.is_set() and deadline is not None:
            final = states.TIMEDOUT
        with self.lock:
            self.doc["state"] = {"life_cycle_state": states.TERMINATED, "result_state": final,
                                 "state_message": self.doc["state"].get("state_message", "")}
            self.doc["end_time"] = _now()
            self.ws.update_run(self.run_id, self.doc)
        self.e.emit(Event("done", f"Run {self.run_id} {final}", {"run_id": self.run_id,
                                                                  "result_state": final}))
        return self.doc

    def _loop(self, pool: ThreadPoolExecutor, running: dict[Future[Result], str],
              deadline: float | None, timeout: float) -> None:
        while len(self.results) < len(self.tasks):
            if self.cancel.is_set():  # nothing new starts after a cancel
                for key in self.tasks:
                    if key not in self.results and key not in running.values():
                        self.results[key] = Result(states.CANCELED)
                        self._set_task(key, state={"life_cycle_state": states.SKIPPED,
                                                   "result_state": states.CANCELED})
            start, skipped = settle(self.tasks, self.results, set(running.values()))
            for key, result in skipped.items():
                self.results[key] = Result(result)
                self._set_task(key, state={"life_cycle_state": states.SKIPPED,
                                           "result_state": result})
            for key in start:
                running[pool.submit(self._run_task, key, self.tasks[key])] = key
            if not running:
                if len(self.results) < len(self.tasks):  # only a cycle can leave this
                    raise KilnError("tasks can never start: " + ", ".join(
                        sorted(set(self.tasks) - set(self.results))))
                break
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = wait(running, timeout=left, return_when=FIRST_COMPLETED)
            if not done and deadline is not None:
                self.cancel.set()  # the job's own timeout: stop what runs
                self.doc["state"]["state_message"] = f"job timed out after {timeout}s"
                done, _ = wait(running)
            for fut in done:
                key = running.pop(fut)
                self.results[key] = fut.result()

    def _drain(self, running: dict[Future[Result], str]) -> None:
        """Wait for the running tasks to stop, however often the user presses Ctrl-C."""
        while running:
            try:
                done, _ = wait(running)
            except KeyboardInterrupt:
                continue
            for fut in done:
                key = running.pop(fut)
                try:
                    self.results[key] = fut.result()
                except Exception:  # noqa: BLE001 - a task that broke while stopping
                    self.results[key] = Result(states.CANCELED)

    def _watch_cancel(self) -> None:
        """Poll the workspace for a cancel request (``kiln runs cancel``)."""
        while not self.finished and not self.cancel.is_set():
            try:
                if self.ws.cancel_requested(self.run_id):
                    self.canceled_by_user = True
                    self.cancel.set()
                    return
            except Exception:  # noqa: BLE001 - a busy database: ask again next time
                pass
            time.sleep(0.2)

    # one task --------------------------------------------------------------------------
    def _run_task(self, key: str, task: dict[str, Any]) -> Result:
        # RUNNING when a worker really starts it, not when it is queued for one
        self._set_task(key, state={"life_cycle_state": states.RUNNING}, start_time=_now())
        retries = int(task.get("max_retries") or 0)
        interval = (task.get("min_retry_interval_millis") or 0) / 1000
        attempt_no = 0
        while True:
            try:
                attempt, outcome = self._attempt(key, task, attempt_no)
            except KilnError as err:  # a task that cannot start is a failed task
                error = err.summary + (f"\n{err.detail}" if err.detail else "")
                attempt, outcome = Attempt(states.FAILED, error=error), None
            except Exception as err:  # noqa: BLE001 - a bug must not leave the run hanging
                attempt, outcome = Attempt(states.FAILED, error=f"internal error in kiln: "
                                           f"{type(err).__name__}: {err}"), None
            can_retry = attempt_no < retries and not self.cancel.is_set() and (
                attempt.result_state == states.FAILED
                or (attempt.result_state == states.TIMEDOUT and task.get("retry_on_timeout")))
            if not can_retry:
                break
            self._set_task(key, state={"life_cycle_state": states.WAITING_FOR_RETRY,
                                       "state_message": attempt.error or ""},
                           attempt_number=attempt_no)
            time.sleep(interval)
            attempt_no += 1
            self._set_task(key, state={"life_cycle_state": states.RUNNING},
                           attempt_number=attempt_no)
        if attempt.values:
            with self.lock:
                self.values[key] = attempt.values
        self._set_task(key, state={"life_cycle_state": states.TERMINATED,
                                   "result_state": attempt.result_state,
                                   "state_message": attempt.error or ""},
                       end_time=_now(), attempt_number=attempt_no,
                       execution_duration=attempt.duration_ms,
                       notebook_output={"result": attempt.exit_value}
                       if attempt.exit_value is not None else {},
                       error=attempt.error, error_trace=attempt.error_trace)
        return Result(attempt.result_state, outcome)

    def _attempt(self, key: str, task: dict[str, Any], attempt_no: int
                 ) -> tuple[Attempt, str | None]:
        ctx = replace(self.ctx, task_values=dict(self.values), task_key=key, attempt=attempt_no,
                      task_run_id=self.run_id * 1000 + list(self.tasks).index(key.split("/")[0]))
        if "condition_task" in task:
            c = task["condition_task"]
            ok = condition.evaluate(c["op"], substitute(str(c["left"]), ctx),
                                    substitute(str(c["right"]), ctx))
            return Attempt(states.SUCCESS), "true" if ok else "false"
        if "run_job_task" in task:
            rj = task["run_job_task"]
            params = substitute(rj.get("job_parameters") or {}, ctx)
            child = Engine(self.ws, self.e.emit, self.e.workers, self.e.env_cache,
                           self.e.server_url).run_now(
                int(rj["job_id"]), params)
            result = child["state"]["result_state"]
            return Attempt(states.SUCCESS if result == states.SUCCESS else states.FAILED,
                           error=None if result == states.SUCCESS else
                           f"run {child['run_id']} of job {rj['job_id']} ended {result}"), None
        if "for_each_task" in task:
            return self._for_each(key, task["for_each_task"], ctx), None
        kind = next((k for k in PROCESS_TASKS if k in task), None)
        if kind is None:
            other = next((k for k in task if k.endswith("_task")), "unknown")
            raise KilnError(f"{other} is not supported by this version of kiln's job engine")
        spec = self._spec(kind, task[kind], ctx)
        reqs = requirements(task, {e["environment_key"]: e for e in
                                   self.settings.get("environments") or []}, self.ws.local_path)
        spec["python"] = environment_python(reqs, self.e.env_cache)
        spec["env_cache"] = self.e.env_cache  # for %pip install cells
        spec["cluster"] = self._cluster(task)
        spec["context"] = {"job_id": self.job_id, "run_id": self.run_id, "task_key": key,
                           "user": self.ws.current_user(), "workspace": self.ws.name}
        task_dir = os.path.join(self.ws.run_dir(self.run_id), *key.split("/"))
        timeout = task.get("timeout_seconds") or None
        attempt = run_process(spec, task_dir, timeout, self.cancel, self.server)
        # the secrets it read, and the run's own token should the task have printed it
        redact_logs(task_dir, [self.ws.get_secret(s, k) for s, k in attempt.secrets_used]
                    + ([self.server[1]] if self.server else []))
        return attempt, None

    def _cluster(self, task: dict[str, Any]) -> dict[str, Any]:
        """The Spark settings of the compute a task names: its ``new_cluster``, its job
        cluster's, or none (``existing_cluster_id`` and serverless ``environment_key``
        tasks run on the workspace's shared compute as they are)."""
        spec = task.get("new_cluster")
        key = task.get("job_cluster_key")
        if spec is None and key:
            spec = next((c.get("new_cluster") for c in self.settings.get("job_clusters") or []
                         if c.get("job_cluster_key") == key), None)
            if spec is None:
                raise KilnError(f"task {task.get('task_key')}: job cluster {key} is not "
                                "defined in the job's job_clusters")
        spec = spec or {}
        return {"spark_conf": {str(k): str(v) for k, v in (spec.get("spark_conf") or {}).items()},
                "spark_env_vars": {str(k): str(v) for k, v in
                                   (spec.get("spark_env_vars") or {}).items()}}

    def _for_each(self, key: str, body: dict[str, Any], ctx: RunContext) -> Attempt:
        raw = body["inputs"]
        if isinstance(raw, str):
            try:
                inputs = json.loads(substitute(raw, ctx))
            except ValueError:
                raise KilnError(f"for_each_task {key}: inputs must be a JSON array, got {raw!r}") \
                    from None
        else:
            inputs = raw
        if not isinstance(inputs, list):
            raise KilnError(f"for_each_task {key}: inputs must be a list")
        nested = body["task"]
        t0 = time.monotonic()

        def one(i: int) -> Attempt:
            item_ctx = replace(ctx, input=inputs[i])
            task = substitute(nested, item_ctx)
            attempt, _ = self._attempt(f"{key}/{i}", task, 0)
            return attempt

        with ThreadPoolExecutor(max_workers=max(1, int(body.get("concurrency") or 1))) as pool:
            attempts = list(pool.map(one, range(len(inputs))))
        failed = [i for i, a in enumerate(attempts) if a.result_state != states.SUCCESS]
        duration = int((time.monotonic() - t0) * 1000)
        if failed:
            first = attempts[failed[0]]
            return Attempt(states.FAILED, error=f"{len(failed)} of {len(inputs)} iterations "
                           f"failed; iteration {failed[0]}: {first.error}", duration_ms=duration)
        return Attempt(states.SUCCESS, duration_ms=duration)

    def _spec(self, kind: str, body: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        local_root = self.ws.local_root()
        if kind == "notebook_task":
            path = self.ws.local_path(body["notebook_path"])
            if path is None:
                raise KilnError(f"notebook {body['notebook_path']} is not on this machine")
            params = {**substitute(body.get("base_parameters") or {}, ctx), **self.parameters}
            return {"kind": "notebook", "path": find_notebook(path), "parameters": params,
                    "upstream_values": dict(self.values), "workspace_dir": local_root}
        if kind == "python_wheel_task":
            named = body.get("named_parameters") or {}
            argv = (substitute([f"--{k}={v}" for k, v in named.items()], ctx) if named
                    else substitute(body.get("parameters") or [], ctx))
            return {"kind": "wheel", "package": body["package_name"],
                    "entry_point": body["entry_point"], "argv": argv,
                    "parameters": self.parameters, "upstream_values": dict(self.values),
                    "workspace_dir": local_root, "cwd": self.ws.run_dir(self.run_id)}
        path = self.ws.local_path(body["python_file"])
        if path is None or not os.path.isfile(path):
            raise KilnError(f"file {body['python_file']} not found in workspace {self.ws.name}")
        argv = self.python_params if self.python_params is not None else substitute(
            body.get("parameters") or [], ctx)
        return {"kind": "python", "path": path, "argv": argv, "parameters": self.parameters,
                "upstream_values": dict(self.values), "workspace_dir": local_root}
