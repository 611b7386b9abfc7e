"""The kiln command as users run it: real subprocesses, real terminals, real pipes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from kiln import __version__
from tests.conftest import NOTEBOOK, kiln_exe, run_on_terminal, write_files

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("BUNDLE_VAR_", "DATABRICKS_", "KILN_"))}
    base.update(KILN_HOME=str(cwd / ".kiln-home"), KILN_USER="alice@example.com", **env)
    return subprocess.run([kiln_exe(), *args], cwd=cwd, env=base, capture_output=True,
                          text=True, timeout=60)


def test_version_and_help(tmp_path: Path) -> None:
    assert run(["--version"], tmp_path).stdout == f"kiln {__version__}\n"
    out = run(["--help"], tmp_path).stdout
    assert "bundle" in out and "--debug" in out
    out = run(["bundle", "validate", "--help"], tmp_path).stdout
    for flag in ("--target", "--output", "--var", "--strict"):
        assert flag in out


def test_python_dash_m_kiln(tmp_path: Path) -> None:
    import sys

    proc = subprocess.run([sys.executable, "-m", "kiln", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout == f"kiln {__version__}\n"


def test_errors_without_and_with_debug(tmp_path: Path) -> None:
    proc = run(["bundle", "validate"], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: Unable to locate the bundle root")
    assert "Traceback" not in proc.stderr
    proc = run(["bundle", "validate", "--debug"], tmp_path)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "KilnError" in proc.stderr


def test_bad_var_flag(tmp_path: Path) -> None:
    write_files(tmp_path, {"databricks.yml": "bundle: {name: x}\n"})
    proc = run(["bundle", "validate", "--var", "novalue"], tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith('Error: unexpected flag value for variable assignment: "novalue"')


def test_environment_selects_root_target_and_variables(tmp_path: Path) -> None:
    project = tmp_path / "project"
    write_files(project, {"databricks.yml": """
        bundle: {name: x}
        variables: {catalog: {default: main}}
        targets: {dev: {}, prod: {}}
    """})
    proc = run(["bundle", "validate", "-o", "json"], tmp_path,
               DATABRICKS_BUNDLE_ROOT=str(project), DATABRICKS_BUNDLE_TARGET="prod",
               BUNDLE_VAR_catalog="from_env")
    assert proc.returncode == 0, proc.stderr
    tree = json.loads(proc.stdout)
    assert tree["bundle"]["target"] == "prod"
    assert tree["variables"]["catalog"]["value"] == "from_env"


def test_profiles_from_kiln_home(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "databricks.yml": "bundle: {name: x}\nworkspace: {profile: ci}\n",
        ".kiln-home/config.toml": '[profiles.ci]\nuser = "ci-bot@corp.com"\nworkspace = "ci-ws"\n',
    })
    proc = run(["bundle", "validate"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "User: ci-bot@corp.com" in proc.stdout
    assert "Host: kiln://ci" in proc.stdout
    (tmp_path / ".kiln-home/config.toml").write_text("[profiles.ci\n")
    proc = run(["bundle", "validate"], tmp_path)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: cannot parse")


def test_json_output_after_an_error_is_the_tree_so_far(tmp_path: Path) -> None:
    write_files(tmp_path, {"databricks.yml": "bundle: {name: x}\nresources: {jobs: {j: {name: '${var.nope}'}}}\n"})
    proc = run(["bundle", "validate", "-o", "json"], tmp_path)
    assert proc.returncode == 1
    tree = json.loads(proc.stdout)
    assert tree["resources"]["jobs"]["j"]["name"] == "${var.nope}"
    assert tree["workspace"]["current_user"]["userName"] == "alice@example.com"
    assert "reference does not exist: ${var.nope}" in proc.stderr


def test_json_is_sorted_with_two_space_indent(tmp_path: Path) -> None:
    write_files(tmp_path, {"databricks.yml": "bundle: {name: x}\nresources: {jobs: {z: {name: z}, a: {name: a}}}\n"})
    out = run(["bundle", "validate", "-o", "json"], tmp_path).stdout
    assert out == json.dumps(json.loads(out), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert out.index('"a"') < out.index('"z"')


def test_piped_output_is_plain_and_a_terminal_gets_color(tmp_path: Path) -> None:
    write_files(tmp_path, {"databricks.yml": "bundle: {name: x, nmae: y}\n"})
    piped = run(["bundle", "validate"], tmp_path)
    assert "\x1b[" not in piped.stdout + piped.stderr
    assert piped.stderr.startswith("Warning: unknown field: nmae")

    env = {k: v for k, v in os.environ.items() if not k.startswith("KILN_")}
    env.update(KILN_HOME=str(tmp_path / "h"), KILN_USER="alice@example.com", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    shown = run_on_terminal([kiln_exe(), "bundle", "validate"], tmp_path, env)
    assert "\x1b[" in shown and "unknown field: nmae" in shown


def test_schema_describes_real_bundles(tmp_path: Path) -> None:
    proc = run(["bundle", "schema"], tmp_path)
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    validator = jsonschema.Draft7Validator(schema)
    for f in (ROOT / "tests/fixtures/mlops_stacks").rglob("*.yml"):
        doc = yaml.safe_load(f.read_text())
        errors = list(validator.iter_errors(doc))
        assert not errors, (f, [e.message for e in errors][:3])
    bad = {"bundle": {"name": "x"}, "resources": {"jobs": {"j": {"max_concurrent_runs": "many"}}}}
    assert list(validator.iter_errors(bad))
    ref = {"bundle": {"name": "x"}, "resources": {"jobs": {"j": {"max_concurrent_runs": "${var.n}"}}}}
    assert not list(validator.iter_errors(ref))


def test_make_demo_example_summarizes(tmp_path: Path) -> None:
    proc = run(["bundle", "summary"], ROOT / "examples" / "churn")
    assert proc.returncode == 0, proc.stderr
    assert "Name: churn" in proc.stdout and "[dev alice] churn-train" in proc.stdout


def test_validate_reads_notebooks_relative_to_included_files(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "databricks.yml": "bundle: {name: x}\ninclude: [resources/*.yml]\n",
        "resources/job.yml": "resources: {jobs: {j: {tasks: [{task_key: a, notebook_task: "
                             "{notebook_path: ../nb/a.py}}]}}}\n",
        "nb/a.py": NOTEBOOK,
    })
    proc = run(["bundle", "validate", "-o", "json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["resources"]["jobs"]["j"]["tasks"][0]["notebook_task"][
        "notebook_path"].endswith("/files/nb/a")
