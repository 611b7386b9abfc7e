"""Shared test helpers: write a bundle to a temporary directory and load it for real."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from kiln.bundle import LoadContext, LoadResult, load_bundle
from kiln.bundle.context import Profile
from kiln.diag import Diagnostic, Severity

# A pytest-xdist worker's __main__ has no __file__, which PySpark's Connect client takes
# for a doctest run: it then looks for a JVM Spark home and exits the process when MLflow
# probes for a Spark session. Name one (nothing is read from it).
os.environ.setdefault("SPARK_HOME", os.path.dirname(os.path.dirname(os.__file__)))

NOTEBOOK_HEADER = "# Databricks notebook source\n"
NOTEBOOK = NOTEBOOK_HEADER + "print('hello')\n"


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Callable[..., Path]:
    """``bundle_dir({"databricks.yml": "...", ...})`` → the root directory."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        root.mkdir(exist_ok=True)
        return write_files(root, files)

    return make


def load(root: Path, target: str | None = None, *, var: dict[str, str] | None = None,
         env: dict[str, str] | None = None, user: str = "alice@example.com",
         profiles: dict[str, Profile] | None = None) -> LoadResult:
    ctx = LoadContext(target=target, cli_vars=tuple((var or {}).items()), env=env or {},
                      profiles=profiles or {}, default_user=user)
    return load_bundle(str(root), ctx)


def errors(r: LoadResult) -> list[Diagnostic]:
    return [d for d in r.diagnostics if d.severity is Severity.ERROR]


def warnings(r: LoadResult) -> list[Diagnostic]:
    return [d for d in r.diagnostics if d.severity is Severity.WARNING]


def summaries(diags: list[Diagnostic]) -> list[str]:
    return [d.summary for d in diags]


def kiln_exe() -> str:
    return os.path.join(os.path.dirname(sys.executable), "kiln")


def run_on_terminal(args: list[str], cwd: Path, env: dict[str, str],
                    answers: dict[bytes, bytes] | None = None, timeout: float = 60) -> str:
    """Run a command on a pseudo-terminal; answer prompts; everything it showed."""
    import os
    import pty
    import select
    import subprocess

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""
    pending = dict(answers or {})
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
        for prompt in [p for p in pending if p in seen]:
            os.write(master, pending.pop(prompt) + b"\n")
    proc.wait(timeout=timeout)
    os.close(master)
    return seen.decode(errors="replace")


def live_processes(marker: str) -> list[int]:
    """Pids of running (not zombie) processes whose command line contains ``marker``."""
    import os

    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmd and state != "Z" and int(entry) != os.getpid():
            pids.append(int(entry))
    return pids
