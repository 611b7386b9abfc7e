"""Tables for task code and notebooks: ``kiln.tables.read/write/history`` and ``kiln.sql``.

Inside a kiln job task the workspace is the task's; in a local session bind one with
``eval "$(kiln env -t dev)"``. Reads and writes inside a task are recorded as lineage::

    import kiln.tables as tables
    tables.write("dev.churn.features", df, mode="merge", keys=["customer_id"])
    df = tables.read("dev.churn.features", version=3)
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _catalog(workspace_dir: str | None = None):  # type: ignore[no-untyped-def]
    """This process's tables (of its workspace, or the one in ``workspace_dir``): their
    data read and written here, every decision the workspace's (in process, or the kiln
    server's that started the run)."""
    from kiln.catalog.data import Tables
    from kiln.session import run_context
    from kiln.workspace.task_client import task_client

    return Tables(task_client(workspace_dir=workspace_dir).catalog(run_context()))


def read(name: str, version: int | None = None, as_arrow: bool = False) -> Any:
    """The table as a pandas DataFrame (or an Arrow table), optionally at a past version."""
    return _catalog().read(name, version, as_arrow)


def write(name: str, data: Any, mode: str = "append", keys: list[str] | None = None,
          location: str | None = None) -> int:
    """Append, overwrite or merge (on ``keys``) a DataFrame; returns the new version.
    The first write creates the table, managed or (with ``location``) external."""
    return int(_catalog().write(name, data, mode, keys, location))


def history(name: str) -> list[dict[str, Any]]:
    return list(_catalog().history(name))


def sql(query: str) -> Any:
    """Run SQL over the catalog's tables (three-part names); an Arrow table."""
    return _catalog().sql(query)


def exists(name: str) -> bool:
    """Whether the table exists (``catalog.schema.table``)."""
    return name.lower() in _catalog().list_tables(name.rsplit(".", 1)[0])
