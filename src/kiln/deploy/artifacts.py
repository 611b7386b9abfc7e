"""Building a bundle's ``artifacts`` and pointing its libraries at the uploaded files.

An artifact runs its ``build`` command in its ``path`` (default: the bundle root); a
``whl`` artifact without one is built with ``python -m build --wheel``. The files it
produces (``files[].source`` globs, default ``dist/*.whl`` for wheels) are uploaded to
``<artifact_path>/.internal/`` and every task library whose path matches them is rewritten
to the uploaded path. A failing build stops the deploy before anything changes.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kiln.events import Event, Listener
from kiln.errors import KilnError
from kiln.workspace import DeployTarget


@dataclass(frozen=True)
class Built:
    name: str
    files: list[str]  # paths relative to the bundle root


def build_artifacts(root: str, artifacts: dict[str, Any], emit: Listener) -> list[Built]:
    out = []
    for name, art in sorted((artifacts or {}).items()):
        art = art or {}
        path = os.path.normpath(os.path.join(root, art.get("path") or "."))
        kind = art.get("type")
        command = art.get("build")
        if not command and kind == "whl":
            command = f'"{sys.executable}" -m build --wheel'
        if command:
            emit(Event("building", f"Building {name}...", {"artifact": name}))
            if kind == "whl":
                for old in glob.glob(os.path.join(path, "dist", "*.whl")):
                    os.remove(old)  # only this build's wheels are uploaded
            proc = subprocess.run(command, shell=True, cwd=path, capture_output=True, text=True,
                                  executable=art.get("executable") or None)
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
                raise KilnError(f"artifact {name}: build failed (exit code {proc.returncode})",
                                path=("artifacts", name, "build"), detail=tail)
        patterns = [f.get("source") for f in art.get("files") or [] if f.get("source")]
        if not patterns:
            patterns = [os.path.join(path, "dist", "*.whl")] if kind == "whl" else []
        files: list[str] = []
        for pat in patterns:
            full = pat if os.path.isabs(pat) else os.path.join(path if not art.get("files")
                                                               else root, pat)
            files += sorted(glob.glob(full))
        if (command or kind) and not files:
            raise KilnError(f"artifact {name}: the build produced no files matching "
                            + ", ".join(patterns), path=("artifacts", name))
        out.append(Built(name, [os.path.relpath(f, root) for f in files]))
        if command:
            emit(Event("built", f"Built {name}: " + ", ".join(os.path.basename(f) for f in files)))
    return out


def destinations(artifact_path: str, built: list[Built]) -> dict[str, str]:
    """{relative local path: workspace path} for the built files (nothing uploaded yet)."""
    return {rel.replace(os.sep, "/"): f"{artifact_path.rstrip('/')}/.internal/{os.path.basename(rel)}"
            for b in built for rel in b.files}


def upload_artifacts(ws: DeployTarget, root: str, mapping: dict[str, str]) -> None:
    for rel, dest in sorted(mapping.items()):
        ws.upload(dest, os.path.join(root, rel))


def local_libraries(tree: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(library, key, path) for every task library that names a file in the bundle."""
    for job in ((tree.get("resources") or {}).get("jobs") or {}).values():
        for task in (job or {}).get("tasks") or []:
            for t in [task, (task.get("for_each_task") or {}).get("task") or {}]:
                for lib in t.get("libraries") or []:
                    for key in ("whl", "jar", "egg"):
                        p = lib.get(key)
                        if p and not p.startswith("/") and ":/" not in p:
                            yield lib, key, p


def rewrite_libraries(tree: dict[str, Any], uploaded: dict[str, str]) -> list[str]:
    """Point task ``whl``/``jar`` libraries at uploaded files; returns unmatched local paths."""
    unmatched: list[str] = []
    for lib, key, p in list(local_libraries(tree)):
        hits = [ws for local, ws in uploaded.items() if fnmatch.fnmatch(local, p)]
        if hits:
            lib[key] = hits[0]
        else:
            unmatched.append(p)
    return unmatched
