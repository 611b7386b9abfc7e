"""Where a workspace path lives in an embedded workspace's directory. Pure, stdlib only
(task processes use it without loading the rest of the workspace).

``/Volumes/<cat>/<sch>/<vol>/...`` is under ``volumes/``; every other workspace path
(``/Workspace/Users/...``, ``/Shared/...``) is under ``fs/``.
"""

from __future__ import annotations

import os

from kiln.errors import KilnError
from kiln.workspace import layout


def local_path(directory: str, path: str) -> str:
    if not path.startswith("/"):
        raise KilnError(f"workspace path must be absolute: {path}")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise KilnError(f"workspace path must not contain '.' or '..': {path}")
    if parts and parts[0] == "Volumes":
        return os.path.join(layout.volumes_dir(directory), *parts[1:])
    return os.path.join(layout.files_dir(directory), *parts)
