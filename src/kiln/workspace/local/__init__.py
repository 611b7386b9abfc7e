"""The embedded workspace: a directory with a SQLite metadata database and files.

Loaded lazily: ``paths`` (where a workspace path lives) needs no SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.workspace.local.home import WorkspaceHome
    from kiln.workspace.local.workspace import LocalWorkspace

__all__ = ["LocalWorkspace", "WorkspaceHome"]


def __getattr__(name: str) -> Any:
    if name == "WorkspaceHome":
        from kiln.workspace.local.home import WorkspaceHome

        return WorkspaceHome
    if name == "LocalWorkspace":
        from kiln.workspace.local.workspace import LocalWorkspace

        return LocalWorkspace
    raise AttributeError(name)
