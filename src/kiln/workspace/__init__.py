"""Workspaces: one isolated environment each, behind one service API.

The API's names load on first use, so that task processes importing a small helper of
this package do not pay for the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.workspace.api import (
        KINDS,
        AlreadyExists,
        DeployState,
        DeployTarget,
        LineageEntry,
        LockHeld,
        LockInfo,
        NotFound,
        ObjectInfo,
        StateConflict,
        Workspace,
    )

__all__ = ["KINDS", "AlreadyExists", "DeployState", "DeployTarget", "LineageEntry", "LockHeld", "LockInfo",
           "NotFound", "ObjectInfo", "StateConflict", "Workspace"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kiln.workspace import api

        return getattr(api, name)
    raise AttributeError(name)
