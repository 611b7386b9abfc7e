"""Workspace files and notebooks as the Workspace API sees them.

A notebook is stored as its source file (``Train.py`` with its ``Databricks notebook
source`` header, as bundles deploy them) and is addressed without the extension
(``/Workspace/.../Train``), as on Databricks. Importing a notebook (a ``language``) writes
that source file; anything else is a plain file at its path.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.errors import AlreadyExists, KilnError, NotFound
from kiln.notebook import SOURCE_LANGUAGES, is_source_notebook
from kiln.workspace import Workspace

LANGUAGES = SOURCE_LANGUAGES


@dataclass(frozen=True)
class Entry:
    path: str
    object_type: str  # DIRECTORY | FILE | NOTEBOOK
    language: str | None = None

    def document(self) -> dict[str, str]:
        doc = {"path": self.path, "object_type": self.object_type}
        if self.language:
            doc["language"] = self.language
        return doc


class WorkspaceFiles:
    """The workspace tree (``/Workspace/...``, ``/Shared/...``). Volume files are the
    catalog's: they go through the Files API, under their volume's privileges."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    @staticmethod
    def _check(path: str) -> str:
        parts = [p for p in path.split("/") if p]
        if parts and parts[0] == "Volumes":
            raise KilnError(f"{path} is a volume path: use the Files API (/api/2.0/fs/files)")
        return path

    def status(self, path: str) -> Entry:
        self._check(path)
        kind = self.ws.path_kind(path)
        if kind == "DIRECTORY":
            return Entry(path, "DIRECTORY")
        notebook = self._notebook_file(path)
        if notebook is not None:
            return Entry(path, "NOTEBOOK", notebook[1])
        if kind == "FILE":
            return Entry(path, "FILE")
        raise NotFound(f"Path ({path}) doesn't exist.")

    def list(self, path: str) -> list[Entry]:
        self._check(path)
        if self.ws.path_kind(path) != "DIRECTORY":
            raise NotFound(f"Path ({path}) doesn't exist or is not a directory.")
        out = []
        for name, is_dir in self.ws.list_dir(path):
            child = path.rstrip("/") + "/" + name
            if is_dir:
                out.append(Entry(child, "DIRECTORY"))
                continue
            stem, lang = _split_notebook_name(name)
            if lang is not None and is_source_notebook(self.ws.read(child)[:64]):
                out.append(Entry(path.rstrip("/") + "/" + stem, "NOTEBOOK", lang))
            else:
                out.append(Entry(child, "FILE"))
        return out

    def export(self, path: str) -> bytes:
        self._check(path)
        notebook = self._notebook_file(path)
        if notebook is not None:
            return self.ws.read(notebook[0])
        if self.ws.path_kind(path) != "FILE":
            raise NotFound(f"Path ({path}) doesn't exist.")
        return self.ws.read(path)

    def import_(self, path: str, content: bytes, *, language: str | None = None,
                overwrite: bool = False) -> None:
        self._check(path)
        if language is not None:
            if language not in LANGUAGES:
                raise KilnError(f"invalid language {language!r}: use one of "
                                + ", ".join(LANGUAGES))
            ext, comment = LANGUAGES[language]
            if not is_source_notebook(content):
                content = f"{comment}Databricks notebook source\n".encode() + content
            target = path + ext
        else:
            target = path
        if not overwrite and (self.ws.path_kind(target) is not None
                              or self._notebook_file(path) is not None):
            raise AlreadyExists(f"Path ({path}) already exists.")
        self.ws.write(target, content)
        self.ws.audit("workspace.import", path)

    def mkdirs(self, path: str) -> None:
        self._check(path)
        self.ws.mkdirs(path)

    def delete(self, path: str, recursive: bool = False) -> None:
        self._check(path)
        notebook = self._notebook_file(path)
        target = notebook[0] if notebook is not None and self.ws.path_kind(path) is None \
            else path
        if self.ws.path_kind(target) is None:
            raise NotFound(f"Path ({path}) doesn't exist.")
        if self.ws.path_kind(target) == "DIRECTORY" and not recursive and \
                self.ws.list_dir(target):
            raise KilnError(f"Folder ({path}) is not empty: delete it with recursive")
        self.ws.delete_path(target, recursive=recursive)
        self.ws.audit("workspace.delete", path)

    def _notebook_file(self, path: str) -> tuple[str, str] | None:
        """(the source file, its language) of the notebook at ``path``, if there is one."""
        for language, (ext, _) in LANGUAGES.items():
            if self.ws.path_kind(path + ext) == "FILE" and \
                    is_source_notebook(self.ws.read(path + ext)[:64]):
                return path + ext, language
        return None


def _split_notebook_name(name: str) -> tuple[str, str | None]:
    for language, (ext, _) in LANGUAGES.items():
        if name.endswith(ext):
            return name[:-len(ext)], language
    return name, None
