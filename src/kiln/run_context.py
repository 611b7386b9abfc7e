"""The job run and task a process works for (stdlib only: the catalog records lineage
with it without loading a workspace)."""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class RunContext:
    """The job run and task a process works for (both None in a plain session)."""

    job_run_id: int | None = None
    task_key: str | None = None
    mlflow_run: str | None = None  # a task's MLflow run, as its client told the server

    def mlflow_run_id(self) -> str | None:
        """The MLflow run: the one given, else the active one if the process has imported
        MLflow and started one."""
        if self.mlflow_run is not None:
            return self.mlflow_run
        mlflow = sys.modules.get("mlflow")
        run = mlflow.active_run() if mlflow is not None else None
        return run.info.run_id if run is not None else None
