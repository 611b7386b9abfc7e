"""Tables for task code and notebooks: ``kiln.tables.read/write/history`` and ``kiln.sql``.

Inside a kiln job task the workspace is the task's (``KILN_WORKSPACE_DIR`` is set); in a
local session export it yourself (``KILN_WORKSPACE_DIR=$KILN_HOME/workspaces/dev``)::

    import kiln.tables as tables
    tables.write("dev.churn.features", df, mode="merge", keys=["customer_id"])
    df = tables.read("dev.churn.features", version=3)
"""

from __future__ import annotations

import functools
import os
from typing import Any

from kiln.errors import KilnError


@functools.cache
def _catalog():  # type: ignore[no-untyped-def]
    from kiln.catalog import Catalog
    from kiln.settings import Settings
    from kiln.workspace.local.workspace import LocalWorkspace

    s = Settings.from_env()
    directory = s.workspace_dir
    if not directory or not os.path.exists(os.path.join(directory, "metadata.db")):
        raise KilnError("no workspace: kiln.tables works inside kiln job tasks, or with "
                        "KILN_WORKSPACE_DIR set to a workspace directory")
    return Catalog(LocalWorkspace(os.path.basename(directory), directory, s.user or "kiln"))


def read(name: str, version: int | None = None, as_arrow: bool = False) -> Any:
    """The table as a pandas DataFrame (or an Arrow table), optionally at a past version."""
    return _catalog().read(name, version, as_arrow)


def write(name: str, data: Any, mode: str = "append", keys: list[str] | None = None) -> int:
    """Append, overwrite or merge (on ``keys``) a DataFrame; returns the new version."""
    return int(_catalog().write(name, data, mode, keys))


def history(name: str) -> list[dict[str, Any]]:
    return list(_catalog().history(name))


def sql(query: str) -> Any:
    """Run SQL over the catalog's tables (three-part names); an Arrow table."""
    return _catalog().sql(query)
