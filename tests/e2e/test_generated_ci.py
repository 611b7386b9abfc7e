"""The generated GitHub workflow's pull-request job, run as CI would run it: every ``run:``
step in order, with bash, in a fresh virtual environment that the job's own install step
fills from the generated requirements (kiln from this checkout, the rest from the package
index)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import Kiln

pytestmark = pytest.mark.e2e


def github_expr(text: str, values: dict[str, str]) -> str:
    """``${{ github.x }}`` expressions of a workflow, with the values CI would give."""
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m.group(1)], text)


def test_pull_request_job_runs_step_by_step_in_a_fresh_venv(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    (tmp_path / "params.json").write_text(json.dumps({"project_name": "churn_pr"}))
    kiln.run("bundle", "init", "--output-dir", str(tmp_path), "--config-file",
             str(tmp_path / "params.json"), cwd=tmp_path)
    root = tmp_path / "churn_pr"
    workflow = yaml.safe_load((root / ".github/workflows/churn_pr-pull-request.yml").read_text())
    assert workflow[True]["pull_request"]["branches"] == ["main"]  # YAML 1.1 reads `on` as True
    job = workflow["jobs"]["unit_and_integration_tests"]
    steps = [s["run"] for s in job["steps"] if "run" in s]
    assert [s["uses"].split("@")[0] for s in job["steps"] if "uses" in s] == \
        ["actions/checkout", "actions/setup-python"]
    commands = [line.split()[0] for s in steps for line in s.splitlines()
                if line.strip() and not line.strip().startswith(("for ", "do", "done"))]
    assert set(commands) <= {"python", "kiln"}, commands  # only the kiln CLI (and pip/pytest)

    venv = tmp_path / "ci-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # kiln comes from this checkout (KILN_PIP_SPEC=`kiln @ file:///...`); pip caches the wheels it builds
    # from directories whose names look like name-version ("kiln-main", "fresh-ci"), so a
    # wheel of an earlier checkout at the same path would be reused: build it afresh, as a
    # new CI runner would
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "cache", "remove", "kiln"],
                   capture_output=True)
    checkout = Path(__file__).resolve().parents[2]
    values = {"github.workspace": str(root), "github.repository_owner": "acme",
              "github.event.pull_request.number": "7", "github.ref": "refs/pull/7/merge",
              # the repository variable that says where CI installs kiln from
              "vars.KILN_PIP_SPEC": f"kiln @ {checkout.as_uri()}"}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KILN_", "VIRTUAL_ENV", "PYTHON", "DATABRICKS_"))}
    path = [p for p in env["PATH"].split(os.pathsep) if Path(p) != Path(sys.executable).parent]
    env.update(PATH=os.pathsep.join([str(venv / "bin"), *path]), VIRTUAL_ENV=str(venv),
               CI="true")
    env.update({k: github_expr(str(v), values) for k, v in job["env"].items()})

    outputs = []
    for step in steps:
        proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step], cwd=root, env=env,
                              capture_output=True, text=True, timeout=1200,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, f"step failed:\n{step}\n{proc.stdout}\n{proc.stderr}"
        outputs.append(proc.stdout)

    # the steps ran the fresh venv's kiln, on the job's KILN_HOME
    which = subprocess.run(["bash", "-c", "command -v kiln"], env=env, capture_output=True,
                           text=True).stdout.strip()
    assert which == str(venv / "bin" / "kiln")
    assert "8 passed" in outputs[1]
    assert outputs[2].count("Validation OK!") == 4
    assert "Run" in outputs[5] and outputs[5].strip().splitlines()[-1].endswith("SUCCESS")
    assert "@champion=v1" in outputs[6] or "champion" in outputs[6], outputs[6]
    assert (root / ".kiln-ci" / "workspaces" / "test").is_dir()

    # the installed (non-editable) kiln carries its templates
    listed = subprocess.run([str(venv / "bin" / "kiln"), "bundle", "init", "--list"], env=env,
                            capture_output=True, text=True, check=True).stdout
    assert listed.startswith("mlops-stack: ")
    subprocess.run([str(venv / "bin" / "kiln"), "bundle", "init", "--output-dir",
                    str(tmp_path / "again")], env=env, check=True, capture_output=True,
                   stdin=subprocess.DEVNULL)
    again = {p.relative_to(tmp_path / "again" / "churn_mlops").as_posix()
             for p in (tmp_path / "again" / "churn_mlops").rglob("*") if p.is_file()}
    assert {".gitignore", ".github/workflows/churn_mlops-pull-request.yml",
            "notebooks/Train.py", "churn_mlops/features.py"} <= again
