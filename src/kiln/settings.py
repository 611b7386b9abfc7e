"""Every setting kiln reads from the environment, declared once with its type and default.

Nothing else in kiln reads ``os.environ`` for its own settings: it receives a
``Settings`` (or the mapping it was made from) from the edge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field



@dataclass(frozen=True)
class Settings:
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        return cls(dict(os.environ if env is None else env))

    @property
    def home(self) -> str:
        """``KILN_HOME``: where workspaces and ``config.toml`` live (default ``~/.kiln``)."""
        return os.path.abspath(os.path.expanduser(self.env.get("KILN_HOME") or "~/.kiln"))

    @property
    def user(self) -> str:
        """``KILN_USER``: the current user when no profile names one."""
        return self.env.get("KILN_USER", "")

    @property
    def bundle_target(self) -> str | None:
        """``DATABRICKS_BUNDLE_TARGET``: the target when ``-t`` is not given."""
        return self.env.get("DATABRICKS_BUNDLE_TARGET") or None

    @property
    def task_workers(self) -> int:
        """``KILN_TASK_WORKERS``: how many tasks of a run run at once (default 4)."""
        raw = self.env.get("KILN_TASK_WORKERS", "4")
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            from kiln.errors import KilnError

            raise KilnError(f"KILN_TASK_WORKERS must be a positive integer, got {raw!r}")
        return n

    @property
    def workspace_dir(self) -> str | None:
        """``KILN_WORKSPACE_DIR``: the workspace task code works in (set for every task)."""
        return self.env.get("KILN_WORKSPACE_DIR") or None

    @property
    def server_url(self) -> str | None:
        """``KILN_SERVER_URL``: the kiln server this process was started by (``kiln server``
        sets it for the runs it starts): their tasks reach their workspace through it (MLflow,
        secrets, identities) as the run's identity, so its privileges hold for task code."""
        return self.env.get("KILN_SERVER_URL") or None

    @property
    def job_run_id(self) -> int | None:
        """``KILN_JOB_RUN_ID``: the job run a task process works for (set by the runner)."""
        raw = self.env.get("KILN_JOB_RUN_ID")
        return int(raw) if raw and raw.isdigit() else None

    @property
    def task_key(self) -> str | None:
        """``KILN_TASK_KEY``: the task a task process runs (set by the runner)."""
        return self.env.get("KILN_TASK_KEY") or None

    @property
    def cache_dir(self) -> str:
        """``KILN_CACHE_DIR``: what kiln keeps across workspaces (default
        ``$XDG_CACHE_HOME/kiln``, else ``~/.cache/kiln``)."""
        if self.env.get("KILN_CACHE_DIR"):
            return os.path.abspath(self.env["KILN_CACHE_DIR"])
        base = self.env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "kiln")

    @property
    def config_file(self) -> str:
        return os.path.join(self.home, "config.toml")

    @property
    def databricks_config_file(self) -> str:
        """``DATABRICKS_CONFIG_FILE``: the Databricks CLI's profiles (``~/.databrickscfg``)."""
        return os.path.expanduser(self.env.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg")

    @property
    def databricks_token(self) -> str | None:
        """``DATABRICKS_TOKEN``: the token for a kiln server target without a profile."""
        return self.env.get("DATABRICKS_TOKEN") or None
