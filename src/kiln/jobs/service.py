"""Jobs and runs of one workspace, as the CLI and ``kiln server`` both use them.

Documents are in the Jobs API 2.2 shapes (``job_id``, ``settings``, ``created_time``,
``creator_user_name``; runs as the engine records them), so the REST layer only moves
them. Mutations are audited here, once.

Job permissions are enforced for the workspace's current user (a server's request user):
a job with a ``permissions`` list (``kiln.acl``) lets its creator, workspace admins and
the principals listed act up to their level (CAN_VIEW: see it and its runs;
CAN_MANAGE_RUN: run and cancel; CAN_MANAGE: change and delete; IS_OWNER); a group's
level holds for its members and ``users`` is everyone. A job without a list is open to
every user of the workspace.
"""

from __future__ import annotations

import os
from typing import Any

from kiln import acl
from kiln.errors import KilnError, NotFound, PermissionDenied
from kiln.workspace import ObjectInfo, Workspace


TASK_RUN_SHIFT = 32  # a task's run id: (task position + 1) << 32 | the job run's id


def task_run_id(run_id: int, position: int) -> int:
    """The id of a task's run, as the Jobs API gives each task run one: the job run's id
    in the low bits, the task's position above them (ids never collide; under 2**53)."""
    return (position + 1) << TASK_RUN_SHIFT | run_id


def task_logs(run_dir: str, task_key: str) -> str:
    """What a task printed: its stdout, then its stderr."""
    out = []
    for name in ("stdout.log", "stderr.log"):
        path = os.path.join(run_dir, task_key, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                out.append(f.read())
    return "".join(out)


def job_document(o: ObjectInfo) -> dict[str, Any]:
    return {"job_id": int(o.id), "settings": o.settings, "created_time": o.created_at,
            "creator_user_name": o.creator}


ONE_TIME = "kiln_one_time_run"  # a job made by runs/submit: not listed with the jobs
LEVELS = ("CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER")
CAN_VIEW, CAN_MANAGE_RUN, CAN_MANAGE = 0, 1, 2


class JobsService:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.acl = acl.ObjectAcl(ws, "jobs", "job", LEVELS, "jobs")

    def _level(self, job: ObjectInfo) -> int:
        """The current user's permission level on ``job`` (an index into LEVELS; -1: none)."""
        return self.acl.level(job)

    def permissions(self, job_id: int) -> dict[str, Any]:
        return self.acl.document(self._job(job_id, CAN_VIEW))

    def set_permissions(self, job_id: int, entries: list[Any], *, replace: bool
                        ) -> dict[str, Any]:
        """Replace (PUT) or update (PATCH) the job's access control list: CAN_MANAGE."""
        self.acl.change(self._job(job_id, CAN_MANAGE), entries, replace=replace)
        return self.permissions(job_id)

    def _job(self, job_id: int, need: int) -> ObjectInfo:
        return self._require(self.ws.get("jobs", str(job_id)), need, f"job {job_id}")

    def _require(self, job: ObjectInfo, need: int, what: str) -> ObjectInfo:
        level = self._level(job)
        if level < CAN_VIEW:  # as Databricks: a job you may not see does not exist for you
            raise NotFound(f"{what} does not exist")
        if level < need:
            raise PermissionDenied(f"{self.ws.current_user()} needs {LEVELS[need]} on job "
                                   f"{job.id} (has {LEVELS[level]})")
        return job

    def may_see(self, job: ObjectInfo) -> bool:
        return self._level(job) >= CAN_VIEW

    def require_manage(self, job_id: int) -> None:
        """CAN_MANAGE on the job (to change or delete it), else NotFound/PermissionDenied."""
        self._job(job_id, CAN_MANAGE)

    def list_jobs(self, *, offset: int = 0, limit: int = 25, name: str | None = None
                  ) -> tuple[list[dict[str, Any]], bool]:
        """One page of jobs (by id), and whether there are more."""
        if not 0 < limit <= 100:
            raise KilnError(f"limit must be between 1 and 100, not {limit}")
        objs = [o for o in self.ws.list("jobs") if (name is None or o.name == name)
                and not o.settings.get(ONE_TIME) and self._level(o) >= CAN_VIEW]
        objs.sort(key=lambda o: int(o.id))
        page = objs[offset:offset + limit]
        return [job_document(o) for o in page], offset + limit < len(objs)

    def get_job(self, job_id: int) -> dict[str, Any]:
        return job_document(self._job(job_id, CAN_VIEW))

    def create_job(self, settings: dict[str, Any]) -> int:
        """A job from Jobs API settings (``name``, ``tasks``, ...); its id."""
        self._check(settings)
        name = str(settings.get("name") or "Untitled")
        info = self.ws.create("jobs", name, {**settings, "name": name})
        self.ws.audit("jobs.create", info.id, {"name": name})
        return int(info.id)

    def reset_job(self, job_id: int, settings: dict[str, Any]) -> None:
        """Replace a job's settings whole."""
        self._check(settings)
        name = str(settings.get("name") or "Untitled")
        self._job(job_id, CAN_MANAGE)
        self.ws.update("jobs", str(job_id), name, {**settings, "name": name})
        self.ws.audit("jobs.reset", str(job_id), {"name": name})

    @staticmethod
    def _check(settings: dict[str, Any]) -> None:
        """What the engine needs to run it: tasks with keys and one task type each."""
        tasks = settings.get("tasks") or []
        if not isinstance(tasks, list):
            raise KilnError("tasks must be a list")
        keys = [t.get("task_key") for t in tasks if isinstance(t, dict)]
        if len(keys) != len(tasks) or not all(isinstance(k, str) and k for k in keys):
            raise KilnError("every task needs a task_key")
        if len(set(keys)) != len(keys):
            raise KilnError("task keys must be unique within a job")
        for t in tasks:
            kinds = [k for k, v in t.items() if k.endswith("_task") and v is not None]
            if len(kinds) != 1:
                raise KilnError(f'task "{t["task_key"]}" needs exactly one task type '
                                "(notebook_task, spark_python_task, ...)")

    def update_job(self, job_id: int, new_settings: dict[str, Any],
                   fields_to_remove: list[Any]) -> None:
        """Change part of a job's settings, as Jobs ``update`` does: top-level fields are
        replaced, ``tasks`` and ``job_clusters`` are merged by key, and
        ``fields_to_remove`` names top-level fields or ``tasks/<key>``,
        ``job_clusters/<key>``."""
        job = self._job(job_id, CAN_MANAGE)
        settings = dict(job.settings)
        for field, key in (("tasks", "task_key"), ("job_clusters", "job_cluster_key")):
            if field in new_settings:
                merged = {e.get(key): e for e in settings.get(field) or []}
                merged.update({e.get(key): e for e in new_settings[field] or []
                               if isinstance(e, dict)})
                new_settings = {**new_settings, field: list(merged.values())}
        settings.update(new_settings)
        for name in fields_to_remove:
            field, _, key = str(name).partition("/")
            if key and field in ("tasks", "job_clusters"):
                k = "task_key" if field == "tasks" else "job_cluster_key"
                settings[field] = [e for e in settings.get(field) or [] if e.get(k) != key]
            else:
                settings.pop(field, None)
        self._check(settings)
        name = str(settings.get("name") or "Untitled")
        self.ws.update("jobs", str(job_id), name, {**settings, "name": name})
        self.ws.audit("jobs.update", str(job_id), {"fields": sorted(new_settings),
                                                   "removed": [str(f) for f in fields_to_remove]})

    def submit_run(self, request: dict[str, Any]) -> int:
        """A one-time run (Jobs ``runs/submit``): its tasks run as a job that is not listed
        with the workspace's jobs; the run id at once."""
        settings = {k: v for k, v in request.items() if k not in ("run_name", "idempotency_token")}
        settings["name"] = str(request.get("run_name") or "Untitled")
        settings[ONE_TIME] = True
        self._check(settings)
        info = self.ws.create("jobs", settings["name"], settings)
        return self.run_now(int(info.id))

    def delete_job(self, job_id: int) -> None:
        self._job(job_id, CAN_MANAGE)
        self.ws.delete("jobs", str(job_id))
        self.ws.audit("jobs.delete", str(job_id))

    def run_now(self, job_id: int, job_parameters: dict[str, str] | None = None,
                python_params: list[str] | None = None) -> int:
        """Start a run in a process of its own; its id at once."""
        from kiln.jobs.detached import start

        self._job(job_id, CAN_MANAGE_RUN)
        run_id = start(self.ws, job_id, job_parameters or {}, python_params)
        self.ws.audit("jobs.run_now", str(job_id), {"run_id": run_id})
        return run_id

    def get_run(self, run_id: int) -> dict[str, Any]:
        """The run, its tasks with their own run ids (``task_run_id``)."""
        doc = self.ws.get_run(run_id)
        self._run_job(doc, CAN_VIEW)
        return {**doc, "tasks": [{**t, "run_id": task_run_id(run_id, i)}
                                 for i, t in enumerate(doc.get("tasks") or [])]}

    def _run_job(self, run: dict[str, Any], need: int) -> None:
        """The permission ``need`` on the run's job (a deleted job's runs are open)."""
        try:
            job = self.ws.get("jobs", str(run["job_id"]))
        except NotFound:
            return
        self._require(job, need, f"run {run['run_id']}")

    def _may_see_run(self, run: dict[str, Any]) -> bool:
        try:
            self._run_job(run, CAN_VIEW)
            return True
        except KilnError:
            return False

    def run_output(self, run_id: int, task_key: str | None = None) -> dict[str, Any]:
        """A task run's output: its notebook's exit value, error and logs. ``run_id`` is a
        task's run id, or a job run's with ``task_key`` (or a job run of one task)."""
        parent, position = run_id & ((1 << TASK_RUN_SHIFT) - 1), (run_id >> TASK_RUN_SHIFT) - 1
        doc = self.get_run(parent)
        tasks = doc.get("tasks") or []
        if position >= 0:
            if position >= len(tasks):
                raise NotFound(f"run {run_id} does not exist")
            task = tasks[position]
        elif task_key is not None:
            task = next((t for t in tasks if t["task_key"] == task_key), None)
            if task is None:
                raise NotFound(f"run {run_id} has no task {task_key}")
        elif len(tasks) == 1:
            task = tasks[0]
        else:
            raise KilnError(f"run {run_id} has {len(tasks)} tasks: ask for one task's run "
                            "(its run_id in the run's tasks)")
        return {"metadata": task, "notebook_output": task.get("notebook_output") or {},
                "error": task.get("error"), "error_trace": task.get("error_trace"),
                "logs": task_logs(self.ws.run_dir(parent), task["task_key"])}

    def list_runs(self, *, job_id: int | None = None, offset: int = 0, limit: int = 25
                  ) -> tuple[list[dict[str, Any]], bool]:
        if not 0 < limit <= 25:
            raise KilnError(f"limit must be between 1 and 25, not {limit}")
        if job_id is not None:
            self._job(job_id, CAN_VIEW)
        runs = [r for r in self.ws.list_runs(job_id, limit=offset + limit + 1)
                if self._may_see_run(r)]
        return runs[offset:offset + limit], len(runs) > offset + limit

    def cancel_run(self, run_id: int) -> bool:
        """Ask the run's runner to stop it (CAN_MANAGE_RUN); False when it had already
        finished (nothing to cancel)."""
        run = self.ws.get_run(run_id)
        self._run_job(run, CAN_MANAGE_RUN)
        if run["state"]["life_cycle_state"] in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
            return False
        self.ws.request_cancel(run_id)
        self.ws.audit("runs.cancel", str(run_id))
        return True
