"""kiln's online store: a published feature table's latest row per key, kept beside the
workspace (``<workspace>/online/<table>.parquet``) and held in memory by the processes
that look features up (serving endpoints), so that a request's lookup is an in-memory
join, never a Delta scan. ``publish_table`` writes it; ``write_table`` refreshes it when
the table is published. A process reloads it when the file changes.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import pandas as pd
from kiln.workspace import layout

_cache: dict[str, tuple[int, pd.DataFrame]] = {}
_lock = threading.Lock()


def path_of(workspace_dir: str, table: str) -> str:
    return os.path.join(layout.online_dir(workspace_dir), f"{table}.parquet")


def publish(workspace_dir: str, table: str, rows: pd.DataFrame, keys: list[str],
            timeseries_column: str | None) -> int:
    """Write the table's latest row per key to the online store; how many rows."""
    latest = rows
    if timeseries_column:
        latest = rows.sort_values(timeseries_column, kind="stable").drop_duplicates(
            [k for k in keys if k != timeseries_column], keep="last")
    _replace(path_of(workspace_dir, table), lambda tmp: latest.to_parquet(tmp, index=False))
    return len(latest)


def _replace(path: str, write: Any) -> None:
    """Write ``path`` whole: ``write(tmp)`` next to it, then one rename (readers see the
    old file or the new one)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    write(tmp)
    os.replace(tmp, path)


def load(workspace_dir: str, table: str, keys: list[str] | None = None
         ) -> pd.DataFrame | None:
    """The published rows (None if the table is not published), reloaded on change;
    indexed by ``keys`` when given (a lookup is then a keyed read)."""
    path = path_of(workspace_dir, table)
    try:
        mtime = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None
    path_key = f"{path}#{','.join(keys or [])}"
    with _lock:
        hit = _cache.get(path_key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
    rows = pd.read_parquet(path)
    if keys:
        rows = rows.set_index(keys)
    with _lock:
        _cache[path_key] = (mtime, rows)
    return rows


def stores(workspace_dir: str) -> dict[str, dict[str, Any]]:
    """The online stores named by ``create_online_store``; one embedded store serves them."""
    import json

    try:
        with open(_stores_path(workspace_dir), encoding="utf-8") as f:
            return dict(json.load(f))
    except FileNotFoundError:
        return {}


def add_store(workspace_dir: str, name: str, capacity: str) -> dict[str, Any]:
    """Name a new store; two processes adding at once both get theirs (one at a time)."""
    import fcntl
    import json
    from datetime import datetime, timezone

    from kiln.errors import AlreadyExists

    path = _stores_path(workspace_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        have = stores(workspace_dir)
        if name in have:
            raise AlreadyExists(f"online store {name!r} already exists")
        have[name] = {"capacity": capacity, "state": "AVAILABLE",
                      "creation_time": datetime.now(timezone.utc).isoformat(timespec="seconds")}

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(have, f)

        _replace(path, write)
    return have[name]


def _stores_path(workspace_dir: str) -> str:
    return os.path.join(layout.online_dir(workspace_dir), "stores.json")


def drop(workspace_dir: str, table: str) -> None:
    try:
        os.remove(path_of(workspace_dir, table))
    except FileNotFoundError:
        pass


def online_lookup(lookup: Any) -> Any:
    """The lookup as the online store answers it: the latest values per key."""
    from dataclasses import replace

    return replace(lookup, timeseries_column=None, timestamp_lookup_key=None, lookback=None)
