"""``kiln demo`` (what ``make demo`` runs): the whole lifecycle, every step real, and the
temporary project and workspaces removed afterwards."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import kiln_exe

pytestmark = pytest.mark.e2e


def test_demo_runs_the_whole_lifecycle(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run([kiln_exe(), "demo"], env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    steps = re.findall(r"^\[\s*(\d+)/15\] (.*) \((\d+\.\d) s\)$", out, re.MULTILINE)
    assert [int(n) for n, _, _ in steps] == list(range(1, 16)), out
    assert "the alert started run" in out and "passed validation and is @challenger" in out
    assert re.search(r"prod\s+prod\.churn_demo\.churn_model\s+v1\s+@champion\s+"
                     r"approval: approved", out), out
    assert re.search(r"dev\s+dev\.churn_demo_demo\.churn_model\s+v2\s+@champion", out), out
    assert "model_training_job (alert)" in out and "FAILED" not in out
    assert re.search(r"Drift found \(PSI >= 0\.2 against the training data\): .*plan", out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kiln-demo-")]
