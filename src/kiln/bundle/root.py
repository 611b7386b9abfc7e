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
    """(root directory, root file name). ``DATABRICKS_BUNDLE_ROOT`` overrides the search.
    The errors are the Databricks CLI's."""
    forced = env.get("DATABRICKS_BUNDLE_ROOT")
    if forced:
        root = os.path.abspath(forced)
        problem = None
        if not os.path.exists(root):
            problem = f"stat {forced}: no such file or directory"
        elif not os.path.isdir(root):
            problem = "not a directory"
        name = root_file_in(root) if problem is None else None
        if problem is None and name is None:
            problem = f"{ROOT_FILE_NAMES[0]} not found"
        if problem is not None or name is None:
            raise KilnError(f'Invalid bundle root DATABRICKS_BUNDLE_ROOT="{forced}": {problem}',
                            detail="The DATABRICKS_BUNDLE_ROOT environment variable must "
                                   "point to an existing directory that contains a bundle "
                                   "configuration file.")
        return root, name
    cur = os.path.abspath(start)
    while True:
        name = root_file_in(cur)
        if name is not None:
            return cur, name
        parent = os.path.dirname(cur)
        if parent == cur:
            raise KilnError(f"Unable to locate the bundle root: {ROOT_FILE_NAMES[0]} not found.",
                            detail="Run this command from a directory that contains a bundle, "
                                   "or set the DATABRICKS_BUNDLE_ROOT environment variable to "
                                   "the bundle root directory.\nAlternatively, create a new "
                                   "bundle with 'kiln bundle init'.")
        cur = parent
