"""Golden CLI tests: a bundle and a command in, the exact output out.

Each directory under ``golden/`` holds a bundle, a ``cmd`` file (the arguments to
``kiln``), and the expected ``stdout``, ``stderr`` and ``exit`` code. The command runs as a
real subprocess in a copy of the directory. Regenerate the expectations after an
intended change with ``KILN_UPDATE_GOLDEN=1 make test``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import kiln_exe

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "cmd").exists())
EXPECTED = ("stdout", "stderr", "exit")


@pytest.mark.e2e
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path) -> None:
    src = GOLDEN / case
    work = tmp_path / "bundle"
    shutil.copytree(src, work, ignore=shutil.ignore_patterns("cmd", *EXPECTED))
    args = shlex.split((src / "cmd").read_text())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BUNDLE_VAR_", "DATABRICKS_", "KILN_"))}
    env.update(KILN_HOME=str(tmp_path / "home"), KILN_USER="alice@example.com")
    proc = subprocess.run([kiln_exe(), *args], cwd=work, env=env, capture_output=True,
                          text=True, timeout=60)
    got = {"stdout": proc.stdout, "stderr": proc.stderr, "exit": f"{proc.returncode}\n"}
    got = {k: v.replace(str(work), "<ROOT>") for k, v in got.items()}
    if os.environ.get("KILN_UPDATE_GOLDEN"):
        for name, text in got.items():
            (src / name).write_text(text)
    for name in EXPECTED:
        assert got[name] == (src / name).read_text(), f"{case}/{name} differs"
