"""Workspaces: one isolated environment each, behind one service API."""

from kiln.workspace.api import (
    KINDS,
    AlreadyExists,
    DeployState,
    LockHeld,
    LockInfo,
    NotFound,
    ObjectInfo,
    Workspace,
)

__all__ = ["KINDS", "AlreadyExists", "DeployState", "LockHeld", "LockInfo", "NotFound",
           "ObjectInfo", "Workspace"]
