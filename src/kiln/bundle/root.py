"""Finding the bundle root: the directory holding ``databricks.yml`` (or its aliases)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from kiln.errors import KilnError

ROOT_FILE_NAMES = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml")


def root_file_in(directory: str) -> str | None:
    """The one root config file in ``directory``; more than one is an error."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return None
    found = [n for n in ROOT_FILE_NAMES if n in names]
    if len(found) > 1:
        raise KilnError(f"multiple bundle root configuration files found in {directory}: "
                        + ", ".join(found))
    return found[0] if found else None


def find_root(start: str, env: Mapping[str, str]) -> tuple[str, str]:
    """(root directory, root file name). ``DATABRICKS_BUNDLE_ROOT`` overrides the search."""
    forced = env.get("DATABRICKS_BUNDLE_ROOT")
    if forced:
        root = os.path.abspath(forced)
        if not os.path.isdir(root):
            raise KilnError(f"DATABRICKS_BUNDLE_ROOT {forced}: no such directory")
        name = root_file_in(root)
        if name is None:
            raise KilnError(f"unable to locate bundle root: no {ROOT_FILE_NAMES[0]} in "
                            f"{root} (DATABRICKS_BUNDLE_ROOT)")
        return root, name
    cur = os.path.abspath(start)
    while True:
        name = root_file_in(cur)
        if name is not None:
            return cur, name
        parent = os.path.dirname(cur)
        if parent == cur:
            raise KilnError(f"unable to locate bundle root: {ROOT_FILE_NAMES[0]} not found "
                            f"in {os.path.abspath(start)} or any parent directory")
        cur = parent
