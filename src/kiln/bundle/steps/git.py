"""``bundle.git``: branch, commit and origin of the repository holding the bundle.

Read from the ``.git`` directory directly (no ``git`` process): values written in the
bundle win over what is found.
"""

from __future__ import annotations

import configparser
import os

from kiln.diag import Diagnostic, Severity
from kiln.bundle.dyn.value import Value, get_path, set_path
from kiln.bundle.state import Loading


def load_git(b: Loading) -> tuple[Loading, list[Diagnostic]]:
    # Only what the repository says; outside one the bundle root is "." and references
    # such as ``${bundle.git.branch}`` (MLOps Stacks writes them) read "" (an unset field).
    found = read_git(b.root)
    info = {"bundle_root_path": ".", **found}
    config = b.config
    if "bundle_root_path" in found:  # in a repository: what is synced must lie in it
        rel = found["bundle_root_path"]
        top = os.path.normpath(os.path.join(b.root, *[".."] * (0 if rel == "." else
                                                               len(rel.split("/")))))
        sync_root = _sync_root(b.root, config)
        if os.path.relpath(sync_root, top).startswith(".."):
            return b, [Diagnostic(Severity.ERROR, f'path "{sync_root}" is not within '
                                  f'repository root "{top}"')]
    for key, val in info.items():
        cur = get_path(config, ("bundle", "git", key))
        if cur is None or cur.is_nil:
            config = set_path(config, ("bundle", "git", key), Value(val))
    return b.with_config(config), []


def _sync_root(root: str, config: Value) -> str:
    """The common parent of the bundle root and its ``sync.paths`` (the CLI's sync root)."""
    paths = config.get("sync")
    paths = paths.get("paths") if paths is not None and paths.is_map else None
    out = os.path.normpath(root)
    for p in paths.v if paths is not None and paths.is_seq else []:
        if isinstance(p.v, str) and not os.path.isabs(p.v):
            out = os.path.commonpath([out, os.path.normpath(os.path.join(root, p.v))])
    return out


def read_git(start: str) -> dict[str, str]:
    top = start
    while not os.path.exists(os.path.join(top, ".git")):
        parent = os.path.dirname(top)
        if parent == top:
            return {}
        top = parent
    gitdir = os.path.join(top, ".git")
    if os.path.isfile(gitdir):  # worktrees and submodules: "gitdir: <path>"
        try:
            with open(gitdir, encoding="utf-8") as f:
                line = f.read().strip()
        except OSError:
            return {}
        if not line.startswith("gitdir:"):
            return {}
        gitdir = os.path.normpath(os.path.join(top, line.split(":", 1)[1].strip()))
    out: dict[str, str] = {}
    try:
        with open(os.path.join(gitdir, "HEAD"), encoding="utf-8") as f:
            head = f.read().strip()
    except OSError:
        return {}
    commit = ""
    if head.startswith("ref:"):
        ref = head.split(":", 1)[1].strip()
        if ref.startswith("refs/heads/"):
            out["branch"] = out["actual_branch"] = ref[len("refs/heads/"):]
        commit = _read_ref(gitdir, ref)
    else:
        commit = head
    if commit:
        out["commit"] = commit
    url = _origin(gitdir)
    if url:
        out["origin_url"] = url
    rel = os.path.relpath(start, top)
    out["bundle_root_path"] = "." if rel == "." else rel.replace(os.sep, "/")
    return out


def _read_ref(gitdir: str, ref: str) -> str:
    try:
        with open(os.path.join(gitdir, ref), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        pass
    try:
        with open(os.path.join(gitdir, "packed-refs"), encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(" ")
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    except OSError:
        pass
    return ""


def _origin(gitdir: str) -> str:
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        cp.read(os.path.join(gitdir, "config"), encoding="utf-8")
    except configparser.Error:
        return ""
    return cp.get('remote "origin"', "url", fallback="")
