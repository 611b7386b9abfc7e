"""The workspace and run of the current process, for code running inside a kiln job task
(the task runner sets the variables) or in a session bound with ``kiln env -t TARGET``."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from kiln.errors import KilnError
from kiln.run_context import RunContext
from kiln.settings import Settings

if TYPE_CHECKING:
    from kiln.workspace.local.workspace import LocalWorkspace


def workspace() -> "LocalWorkspace":
    directory = Settings.from_env().workspace_dir
    from kiln.workspace.local.database import exists

    if not directory or not exists(directory):
        raise KilnError("no workspace: this works inside kiln job tasks, or in a session "
                        "bound to one with eval \"$(kiln env -t TARGET)\"")
    return workspace_at(directory)


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
