"""The embedded workspace: a directory with a SQLite metadata database and files."""

from kiln.workspace.local.home import WorkspaceHome
from kiln.workspace.local.workspace import LocalWorkspace

__all__ = ["LocalWorkspace", "WorkspaceHome"]
