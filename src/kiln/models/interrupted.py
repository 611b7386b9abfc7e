"""What a stopped task leaves in MLflow, put right.

A task that is canceled, times out or dies cannot end the MLflow runs it started: they
would stay RUNNING for ever, and a model version registered from one of them is the half
of a unit of work that never finished (trained, maybe, but never evaluated or tagged).
After such a task, its runs end ``KILLED`` and the versions registered from them are
deleted, unless an alias already points at one (something uses it: it is kept).

Each MLflow run a task starts carries the tags ``kiln.job_run_id`` and ``kiln.task_key``
(see ``kiln.jobs.runner.task_context_env``); that is how a task's runs are found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from kiln.models import store


@dataclass
class Cleanup:
    killed_runs: list[str] = field(default_factory=list)
    deleted_versions: list[str] = field(default_factory=list)  # "name vN"
    kept_versions: list[str] = field(default_factory=list)  # already behind an alias

    def lines(self) -> list[str]:
        out = []
        if self.killed_runs:
            out.append(f"MLflow runs ended KILLED: {', '.join(self.killed_runs)}")
        if self.deleted_versions:
            out.append("model versions registered by the stopped task, deleted: "
                       + ", ".join(self.deleted_versions))
        if self.kept_versions:
            out.append("model versions registered by the stopped task, kept (an alias "
                       "points at them): " + ", ".join(self.kept_versions))
        return out


def close_task_runs(workspace_dir: str, job_run_id: int | str, task_key: str) -> Cleanup:
    """End the RUNNING MLflow runs of one stopped task and delete its unfinished versions."""
    done = Cleanup()
    if not os.path.exists(store.db_path(workspace_dir)):
        return done  # no task of this workspace ever used MLflow
    client = store.client(workspace_dir)
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return done
    runs = client.search_runs(
        experiments,
        filter_string=(f"tags.`kiln.job_run_id` = '{job_run_id}' and "
                       f"tags.`kiln.task_key` = '{task_key}' and "
                       "attributes.status = 'RUNNING'"))
    for run in runs:
        run_id = run.info.run_id
        client.set_terminated(run_id, "KILLED")
        done.killed_runs.append(run_id)
        for found in client.search_model_versions(f"run_id = '{run_id}'"):
            mv = client.get_model_version(found.name, found.version)  # search omits aliases
            label = f"{mv.name} v{mv.version}"
            if mv.aliases:
                done.kept_versions.append(label)
            else:
                client.delete_model_version(mv.name, mv.version)
                done.deleted_versions.append(label)
    return done
