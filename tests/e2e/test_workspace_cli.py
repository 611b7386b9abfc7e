"""``kiln workspace``, ``kiln auth whoami``, profiles and hosts, through the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import kiln_exe, run_on_terminal, write_files
from tests.e2e.helpers import Kiln, job_bundle

pytestmark = pytest.mark.e2e


def test_workspace_list_show_delete(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    assert kiln.run("workspace", "list", cwd=tmp_path).stdout.startswith("No workspaces in")
    root = job_bundle(tmp_path / "b", 2)
    kiln.run("bundle", "deploy", cwd=root)
    out = kiln.run("workspace", "list", cwd=tmp_path).stdout
    assert out.splitlines()[1].split()[:2] == ["dev", "6"]
    show = kiln.run("workspace", "show", "dev", cwd=tmp_path).stdout
    assert "Name: dev" in show and "  jobs: 2" in show and "  schemas: 1" in show
    missing = kiln.run("workspace", "show", "nope", cwd=tmp_path, ok=False)
    assert missing.returncode == 1 and missing.stderr.startswith("Error: workspace nope does not exist")
    refused = kiln.run("workspace", "delete", "dev", cwd=tmp_path, ok=False)
    assert refused.returncode == 1 and "needs --auto-approve" in refused.stderr
    kiln.run("workspace", "delete", "dev", "--auto-approve", cwd=tmp_path)
    assert not (kiln.home / "workspaces" / "dev").exists()


def test_whoami_and_profiles(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    assert kiln.run("auth", "whoami", cwd=tmp_path).stdout == "alice@example.com\n"
    write_files(kiln.home, {"config.toml": '[profiles.ci]\nuser = "ci-bot@corp.com"\n'
                                           'workspace = "shared-ci"\n'})
    assert kiln.run("auth", "whoami", "-p", "ci", cwd=tmp_path).stdout == "ci-bot@corp.com\n"
    root = write_files(tmp_path / "b", {"databricks.yml": """
        bundle: {name: p}
        workspace: {profile: ci}
        resources: {jobs: {j: {name: j}}}
    """})
    kiln.run("bundle", "deploy", cwd=root)
    (job,) = kiln.objects("shared-ci")
    assert job["name"] == "j"


def test_databricks_hosts_deploy_to_the_embedded_workspace(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": """
        bundle: {name: p}
        workspace: {host: "https://adb-1234567890.12.azuredatabricks.net"}
        resources: {jobs: {j: {name: j}}}
        targets: {staging: {}}
    """})
    kiln.run("bundle", "deploy", cwd=root)
    assert [o["name"] for o in kiln.objects("staging")] == ["j"]
    (root / "databricks.yml").write_text((root / "databricks.yml").read_text().replace(
        "https://adb-1234567890.12.azuredatabricks.net", "http://127.0.0.1:9"))
    # an http host is a kiln server: without a token, or with nothing listening, a clear
    # error at the host's line and nothing deployed
    proc = kiln.run("bundle", "deploy", cwd=root, ok=False)
    assert proc.returncode == 1 and "no token for the kiln server at http://127.0.0.1:9" \
        in proc.stderr and "databricks.yml:2:" in proc.stderr
    proc = kiln.run("bundle", "deploy", cwd=root, ok=False, DATABRICKS_TOKEN="dkea-x")
    assert proc.returncode == 1 and "cannot reach the kiln server at http://127.0.0.1:9" \
        in proc.stderr and "Traceback" not in proc.stderr
    assert [o["name"] for o in kiln.objects("staging")] == ["j"]


def test_deploy_on_a_terminal_shows_progress_and_asks(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = job_bundle(tmp_path / "b", 2)
    kiln.run("bundle", "deploy", cwd=root)
    yml = root / "databricks.yml"
    text = yml.read_text()
    yml.write_text(text[:text.index("    job_001:")] + text[text.index("\n\ntargets:"):])

    def on_terminal(answer: bytes) -> str:
        return run_on_terminal([kiln_exe(), "bundle", "deploy"], root,
                               {**kiln.env(), "TERM": "xterm"}, {b"proceed?": answer})

    shown = on_terminal(b"n")
    assert "delete jobs.job_001" in shown and "deploy cancelled" in shown
    assert len(kiln.objects("dev")) == 6
    shown = on_terminal(b"y")
    assert "Deleted jobs.job_001" in shown and "Deployment complete!" in shown
    assert len(kiln.objects("dev")) == 5


def test_env_binds_a_local_session_to_a_workspace(tmp_path: Path) -> None:
    import subprocess
    import sys

    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": """
        bundle: {name: e}
        resources: {schemas: {s: {name: ml, catalog_name: main}}}
        targets: {dev: {mode: development}}
    """})
    kiln.run("bundle", "deploy", cwd=root)
    exports = kiln.run("env", "-t", "dev", cwd=root).stdout
    ws_dir = kiln.home / "workspaces" / "dev"
    assert f"export KILN_WORKSPACE_DIR={ws_dir}" in exports
    assert "export MLFLOW_TRACKING_URI=sqlite:///" in exports
    env = dict(kiln.env())
    for line in exports.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value
    code = ("import pandas as pd, kiln, kiln.tables as t\n"
            "t.write('main.dev_alice_ml.scores', pd.DataFrame({'v': [1, 2]}))\n"
            "print(kiln.sql('SELECT max(v) + min(v) AS s FROM main.dev_alice_ml.scores').to_pylist())\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "[{'s': 3}]" in proc.stdout
    assert "tables: 1" in kiln.run("workspace", "show", "dev", cwd=root).stdout
    log = kiln.run("audit", "list", "-w", "dev", cwd=root).stdout.splitlines()
    assert "tables.create" in log[0] and "main.dev_alice_ml.scores" in log[0]
    assert any("bundle.deploy" in line for line in log)
    entries = json.loads(kiln.run("audit", "list", "-o", "json", cwd=root).stdout)
    assert entries[-1]["action"] == "bundle.deploy" and entries[-1]["user"] == "alice@example.com"


def test_a_closed_pipe_ends_quietly_with_sigpipe_status(tmp_path: Path) -> None:
    import os

    read, write = os.pipe()
    os.close(read)  # the reader is gone before kiln writes (as `| head -1` after a line)
    proc = subprocess.run([kiln_exe(), "bundle", "schema"], stdout=write,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=60)
    os.close(write)
    assert proc.returncode == 141
    assert proc.stderr == ""


def test_sql_nulls_catalogs_in_use_and_task_order(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {
        "databricks.yml": """
bundle: {name: order}
resources:
  schemas:
    s: {name: s, catalog_name: sandbox}
  jobs:
    j:
      name: j
      tasks:
        - {task_key: ModelDeployment, depends_on: [{task_key: ModelValidation}],
           spark_python_task: {python_file: ./noop.py}}
        - {task_key: ModelValidation, depends_on: [{task_key: Train}],
           spark_python_task: {python_file: ./noop.py}}
        - {task_key: Train, spark_python_task: {python_file: ./noop.py}}
""",
        "noop.py": "import kiln.tables as t, pandas as pd\n"
                   "t.write('sandbox.s.t', pd.DataFrame({'a': [1, None], 'b': ['x', None]}),"
                   " mode='overwrite') if not t.exists('sandbox.s.t') else None\n",
    })
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "run", "j", cwd=root)
    # the catalog exists only through its schema: it is listed all the same
    assert kiln.run("catalogs", "list", cwd=root).stdout.split() == ["sandbox"]
    out = kiln.run("sql", "SELECT a, b FROM sandbox.s.t ORDER BY a NULLS LAST", cwd=root).stdout
    assert [line.split() for line in out.splitlines()] == [["a", "b"], ["1.0", "x"],
                                                           ["NULL", "NULL"]]
    run = json.loads(kiln.run("runs", "get", "1", cwd=root).stdout)
    assert [t["task_key"] for t in run["tasks"]] == ["Train", "ModelValidation",
                                                     "ModelDeployment"]


def test_identities_and_grants_from_the_cli(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home", user="admin@example.com")
    w = ["-w", "team"]
    missing = kiln.run("users", "create", "bob@example.com", *w, cwd=tmp_path, ok=False)
    assert missing.returncode == 1 and "workspace team does not exist" in missing.stderr
    from kiln.workspace.local import WorkspaceHome

    WorkspaceHome(str(tmp_path / "home")).open("team", "admin@example.com").close()
    for user in ("admin@example.com", "bob@example.com"):
        kiln.run("users", "create", user, *w, cwd=tmp_path)
    kiln.run("groups", "create", "analysts", *w, cwd=tmp_path)
    kiln.run("groups", "add-member", "analysts", "bob@example.com", *w, cwd=tmp_path)
    kiln.run("groups", "add-member", "admins", "admin@example.com", *w, cwd=tmp_path)
    kiln.run("catalogs", "create", "main", *w, cwd=tmp_path)
    kiln.run("schemas", "create", "main.s", *w, cwd=tmp_path)
    kiln.run("grants", "update", "catalog", "main", "--json",
             '{"changes": [{"principal": "analysts", "add": ["USE_CATALOG"]}]}', *w, cwd=tmp_path)
    kiln.run("grants", "update", "schema", "main.s", "--json",
             '{"changes": [{"principal": "analysts", "add": ["use_schema", "SELECT"]}]}',
             *w, cwd=tmp_path)
    got = json.loads(kiln.run("grants", "get", "schema", "main.s", *w, cwd=tmp_path).stdout)
    assert got == {"privilege_assignments": [
        {"principal": "analysts", "privileges": ["SELECT", "USE_SCHEMA"]}]}
    assert json.loads(kiln.run("groups", "get", "analysts", *w, cwd=tmp_path).stdout
                      )["members"] == ["bob@example.com"]
    # bob sees what his group may use; a user outside it, nothing
    bob = Kiln(tmp_path / "home", user="bob@example.com")
    assert bob.run("schemas", "list", *w, cwd=tmp_path).stdout.split() == ["main.s"]
    carol = Kiln(tmp_path / "home", user="carol@example.com")
    assert carol.run("catalogs", "list", *w, cwd=tmp_path).stdout.split() == []
    bad = kiln.run("grants", "update", "table", "main.s.nope", "--json",
                   '{"changes": [{"principal": "analysts", "add": ["SELECT"]}]}', *w,
                   cwd=tmp_path, ok=False)
    assert bad.returncode == 1 and "Table 'main.s.nope' does not exist" in bad.stderr
    denied = bob.run("grants", "update", "schema", "main.s", "--json",
                     '{"changes": [{"principal": "bob@example.com", "add": ["MODIFY"]}]}',
                     *w, cwd=tmp_path, ok=False)
    assert denied.returncode == 1 and "MANAGE on Schema 'main.s'" in denied.stderr
