"""Where embedded workspaces live: ``$KILN_HOME/workspaces/<name>``."""

from __future__ import annotations

import os
import re
import shutil

from kiln.errors import KilnError, NotFound
from kiln.workspace.local import database
from kiln.workspace.local.workspace import LocalWorkspace

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class WorkspaceHome:
    def __init__(self, kiln_home: str) -> None:
        self.root = os.path.join(kiln_home, "workspaces")

    def path(self, name: str) -> str:
        if not _NAME.match(name):
            raise KilnError(f"invalid workspace name {name!r}: use letters, digits, '_', '-' "
                            "and '.', starting with a letter or digit")
        return os.path.join(self.root, name)

    def exists(self, name: str) -> bool:
        return database.exists(self.path(name))

    def open(self, name: str, user: str) -> LocalWorkspace:
        return LocalWorkspace(name, self.path(name), user)

    def names(self) -> list[str]:
        if not os.path.isdir(self.root):
            return []
        return sorted(n for n in os.listdir(self.root)
                      if database.exists(os.path.join(self.root, n)))

    def delete(self, name: str) -> None:
        if not self.exists(name):
            raise NotFound(f"workspace {name} does not exist")
        shutil.rmtree(self.path(name))

    def size(self, name: str) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.path(name)):
            for f in files:
                try:
                    total += os.path.getsize(os.path.join(dirpath, f))
                except OSError:
                    pass
        return total
