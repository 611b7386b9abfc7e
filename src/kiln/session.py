"""The workspace and run of the current process, for code running inside a kiln job task
(the task runner sets the variables) or in a session bound with ``kiln env -t TARGET``."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from kiln.run_context import RunContext
from kiln.settings import Settings

if TYPE_CHECKING:
    from kiln.workspace.local.workspace import LocalWorkspace


@functools.cache
def workspace_at(directory: str, user: str | None = None) -> "LocalWorkspace":
    """The embedded workspace in ``directory``, as ``user`` (else this process's user): one
    handle per process. The one way kiln's processes open a workspace by its directory."""
    from kiln.workspace.local.workspace import LocalWorkspace

    return LocalWorkspace(os.path.basename(directory), directory,
                          user or Settings.from_env().user or "kiln")


def spark() -> Any:
    """The Spark session of this task or bound session (``kiln.compute.spark``)."""
    from kiln.compute.spark import session

    return session()


def run_context() -> RunContext:
    s = Settings.from_env()
    return RunContext(s.job_run_id, s.task_key)
