"""Syncing the bundle's files into the workspace, incrementally.

Which files: everything under ``sync.paths`` (default: the bundle root), minus what
``.gitignore`` files ignore (and ``.git``, ``.databricks``, virtual environments), minus
``sync.exclude``, plus ``sync.include`` (which wins over ignores). What to copy: files
whose size or modification time differs from what the last deploy recorded, or that are
missing in the workspace; files the workspace has under the bundle's ``file_path`` that
are no longer local are deleted. Comparing with the workspace's own listing (not only with
the recorded manifest) is what makes a sync killed half-way converge on the next deploy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pathspec

from kiln.errors import KilnError
from kiln.workspace import DeployTarget

ALWAYS_IGNORED = [".git/", ".databricks/", "__pycache__/", ".venv/", "venv/", ".kiln/",
                  ".pytest_cache/", ".mypy_cache/", ".DS_Store"]

Manifest = dict[str, list[int]]  # relative path -> [size, mtime_ns]


@dataclass(frozen=True)
class SyncResult:
    manifest: Manifest
    uploaded: list[str]
    deleted: list[str]


def local_files(root: str, sync: dict[str, Any]) -> Manifest:
    """The files a deploy syncs, relative to the root, with size and mtime."""
    ignore = pathspec.GitIgnoreSpec.from_lines(ALWAYS_IGNORED + _gitignore_lines(root))
    exclude = pathspec.GitIgnoreSpec.from_lines(sync.get("exclude") or [])
    include = pathspec.GitIgnoreSpec.from_lines(sync.get("include") or [])
    out: Manifest = {}
    for top in sync.get("paths") or ["."]:
        start = os.path.normpath(os.path.join(root, top))
        rel_top = os.path.relpath(start, root)
        if rel_top == ".." or rel_top.startswith(".." + os.sep):
            raise KilnError(f"sync path {top} is outside the bundle root")
        for dirpath, dirs, files in os.walk(start):
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            dirs[:] = sorted(d for d in dirs
                             if not ignore.match_file(rel_dir + d + "/")
                             or include.match_file(rel_dir + d + "/"))
            for f in files:
                rel = rel_dir + f
                if (ignore.match_file(rel) and not include.match_file(rel)) or exclude.match_file(rel):
                    continue
                st = os.stat(os.path.join(dirpath, f))
                out[rel] = [st.st_size, st.st_mtime_ns]
    return out


def _gitignore_lines(root: str) -> list[str]:
    lines: list[str] = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".databricks", ".venv", "node_modules")]
        if ".gitignore" in files:
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            prefix = "" if rel == "." else rel + "/"
            with open(os.path.join(dirpath, ".gitignore"), encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    line = line.rstrip("\n")
                    if not line.strip() or line.startswith("#"):
                        continue
                    neg = line.startswith("!")
                    pat = line[1:] if neg else line
                    if prefix:  # a nested .gitignore speaks about its own directory
                        pat = prefix + pat.lstrip("/") if ("/" in pat.rstrip("/")) else prefix + "**/" + pat
                    lines.append(("!" if neg else "") + pat)
    return lines


def plan_sync(local: Manifest, previous: Manifest, remote: set[str]) -> tuple[list[str], list[str]]:
    uploads = sorted(rel for rel, meta in local.items()
                     if rel not in remote or previous.get(rel) != meta)
    deletes = sorted(remote - set(local))
    return uploads, deletes


def sync_files(ws: DeployTarget, root: str, file_path: str, local: Manifest,
               previous: Manifest) -> SyncResult:
    prefix = file_path.rstrip("/") + "/"
    remote = {p[len(prefix):] for p in ws.list_files(file_path)}
    uploads, deletes = plan_sync(local, previous, remote)
    for rel in uploads:
        ws.upload(prefix + rel, os.path.join(root, rel))
    for rel in deletes:
        ws.delete_path(prefix + rel)
    return SyncResult(dict(local), uploads, deletes)
