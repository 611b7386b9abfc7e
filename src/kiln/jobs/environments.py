"""Task environments: the libraries a task declares, installed once per dependency set.

A task with ``libraries`` (``whl``, ``pypi``, ``requirements``) or an ``environment_key``
whose job environment lists ``dependencies`` runs in a virtual environment of its own,
cached under ``<cache>/<hash of the dependency set>`` and reused by every task and run
with the same set, so one job's libraries can never break another's. kiln itself stays
importable there (the environment's own packages come first). Tasks without libraries run
in kiln's own environment.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from typing import Any

from kiln.errors import KilnError, NotFound
from kiln.pipspec import split_dependency


def requirements(task: dict[str, Any], environments: dict[str, Any],
                 local_path) -> list[str]:  # type: ignore[no-untyped-def]
    """pip arguments for a task's dependencies (local paths for workspace files)."""
    reqs: list[str] = []
    for lib in task.get("libraries") or []:
        if lib.get("pypi"):
            reqs.append(lib["pypi"]["package"])
        for key in ("whl", "egg"):
            if lib.get(key):
                reqs.append(_local(lib[key], local_path))
        if lib.get("requirements"):
            reqs += ["-r", _local(lib["requirements"], local_path)]
        if lib.get("jar") or lib.get("maven") or lib.get("cran"):
            raise KilnError("jar, maven and cran libraries need a JVM or R runtime, which "
                            "kiln tasks do not have")
    env_key = task.get("environment_key")
    if env_key:
        spec = (environments.get(env_key) or {}).get("spec") or {}
        for dep in spec.get("dependencies") or []:
            flag, target = split_dependency(dep)
            if flag and target:
                reqs += [flag, _local(target, local_path) if target.startswith("/") else target]
            else:
                reqs.append(_local(dep, local_path) if dep.startswith("/") else dep)
    return reqs


def _local(path: str, local_path) -> str:  # type: ignore[no-untyped-def]
    local = local_path(path) if path.startswith("/") else path
    hits = sorted(glob.glob(local)) if local and any(c in local for c in "*?[") else [local]
    if not hits or not hits[0] or not os.path.exists(hits[0]):
        raise NotFound(f"library {path} does not exist in the workspace")
    return hits[-1]


def environment_python(reqs: list[str], cache_dir: str) -> str:
    """The Python of the environment for ``reqs`` (kiln's own when there are none)."""
    if not reqs:
        return sys.executable
    key = _key(reqs)
    env = os.path.join(cache_dir, key)
    python = os.path.join(env, "bin", "python")
    if os.path.exists(os.path.join(env, ".complete")):
        return python
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, f"{key}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build per key, however many tasks ask
        if os.path.exists(os.path.join(env, ".complete")):
            return python
        tmp = env + f".building-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp], check=True,
                       capture_output=True)
        site = subprocess.run([os.path.join(tmp, "bin", "python"), "-c",
                               "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(site, "zz_kiln_parent.pth"), "w") as f:
            # kiln (and what it runs on) after the environment's own packages
            f.write(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
        proc = subprocess.run([sys.executable, "-m", "pip", "--python",
                               os.path.join(tmp, "bin", "python"), "install", "--quiet",
                               "--disable-pip-version-check", *reqs],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise KilnError("installing the task's libraries failed: " + " ".join(reqs),
                            detail="pip said:\n" + _pip_error(proc.stdout + proc.stderr))
        with open(os.path.join(tmp, ".complete"), "w") as f:
            json.dump(reqs, f)
        shutil.rmtree(env, ignore_errors=True)
        os.rename(tmp, env)
    return python


def _key(reqs: list[str]) -> str:
    h = hashlib.sha256()
    for r in sorted(reqs):
        h.update(r.encode() + b"\0")
        if os.path.isfile(r):  # a local wheel: its content, not only its name
            with open(r, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:20]


def _pip_error(output: str, lines: int = 12) -> str:
    """pip's own error: its ERROR lines and what led to them, without the noise."""
    kept = [ln for ln in output.strip().splitlines()
            if ln.strip() and not ln.startswith(("WARNING: Location", "  WARNING: Location"))]
    errors = [i for i, ln in enumerate(kept) if ln.startswith("ERROR")]
    start = max(0, (errors[0] if errors else len(kept)) - 3)
    return "\n".join(kept[start:start + lines])