"""A bundle target whose ``workspace.host`` is a kiln server: validate, deploy, summary and
run go through its REST API as the token's user. The clients' own KILN_HOMEs hold no
workspace: everything lives in the server's."""

from __future__ import annotations

import contextlib
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOK_HEADER as NB, write_files
from tests.e2e.helpers import Kiln
from tests.e2e.test_serving import Server

pytestmark = pytest.mark.e2e

BUNDLE = """
bundle: {name: shared}
resources:
  experiments:
    exp:
      name: /Users/${workspace.current_user.userName}/shared-exp
  jobs:
    hello:
      name: hello-${workspace.current_user.short_name}
      parameters: [{name: fail, default: "no"}]
      permissions:
        - {level: CAN_VIEW, user_name: carol@example.com}
      tasks:
        - task_key: greet
          notebook_task: {notebook_path: ./greet.py}
        - task_key: fail_maybe
          depends_on: [{task_key: greet}]
          notebook_task: {notebook_path: ./check.py}
targets:
  shared:
    workspace: {host: "%s"}
"""
GREET = NB + "print('hello')\ndbutils.notebook.exit('greeted')\n"
CHECK = NB + ("if dbutils.widgets.get('fail') == 'yes':\n"
              "    raise ValueError('asked to fail')\n")


@contextlib.contextmanager
def kiln_server(admin: Kiln, cwd: Path, db: str | None = None) -> Iterator[str]:
    """``kiln server -w shared`` (the workspace is made on its first start, its metadata
    in the PostgreSQL database ``db`` if given); its URL. It must stop cleanly."""
    server = Server(admin, cwd, "-w", "shared", *(["--db", db] if db else []))
    try:
        yield server.url
    finally:
        assert server.stop() == 0


# an MLflow client on another machine: the bundle's experiment keeps its artifacts where the
# server serves them, so what it logs there it loads back
MLFLOW_REMOTE = """
import sys, tempfile, os
import mlflow
from mlflow import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
exp = MlflowClient().get_experiment_by_name(sys.argv[2])
assert exp.artifact_location.startswith("mlflow-artifacts:"), exp.artifact_location
with mlflow.start_run(experiment_id=exp.experiment_id) as run:
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "note.txt"), "w") as f:
        f.write("logged remotely")
    mlflow.log_artifact(os.path.join(d, "note.txt"))
back = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="note.txt",
                                           dst_path=tempfile.mkdtemp())
print(open(back).read())
"""


def token_of(admin: Kiln, cwd: Path, user: str) -> str:
    out = admin.run("tokens", "create", "-w", "shared", "--user", user, cwd=cwd).stdout
    return json.loads(out)["token_value"]


def test_deploy_and_run_through_a_kiln_server(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound, PermissionDenied

    admin = Kiln(tmp_path / "server-home", user="admin@example.com")
    with kiln_server(admin, tmp_path) as url:
        tokens = {u: token_of(admin, tmp_path, f"{u}@example.com") for u in ("alice", "bob",
                                                                            "carol")}
        root = write_files(tmp_path / "b", {"databricks.yml": BUNDLE % url, "greet.py": GREET,
                                            "check.py": CHECK})
        # alice: a ~/.databrickscfg profile with the server's host and her token; her
        # KILN_USER says nothing about who she is there
        cfg = tmp_path / "databrickscfg"
        cfg.write_text(f"[shared]\nhost = {url}\ntoken = {tokens['alice']}\n")
        alice = Kiln(tmp_path / "alice-home", user="someone@laptop")
        env_a = {"DATABRICKS_CONFIG_FILE": str(cfg)}

        assert alice.run("auth", "whoami", "-p", "shared", cwd=root,
                         **env_a).stdout.strip() == "alice@example.com"
        out = alice.run("bundle", "validate", "-t", "shared", "-o", "json", cwd=root, **env_a)
        ws = json.loads(out.stdout)["workspace"]
        assert ws["current_user"]["userName"] == "alice@example.com"  # the token's user
        assert ws["root_path"] == "/Workspace/Users/alice@example.com/.bundle/shared/shared"

        out = alice.run("bundle", "deploy", "-t", "shared", cwd=root, **env_a)
        assert "Deployment complete!" in out.stdout + out.stderr
        again = alice.run("bundle", "deploy", "-t", "shared", cwd=root, **env_a)
        assert "0 created, 0 changed, 0 deleted" in again.stdout + again.stderr
        summary = json.loads(alice.run("bundle", "summary", "-t", "shared", "-o", "json",
                                       cwd=root, **env_a).stdout)
        job_id = int(summary["resources"]["jobs"]["hello"]["id"])

        run = alice.run("bundle", "run", "hello", "-t", "shared", cwd=root, **env_a)
        assert re.search(r"Run \d+ SUCCESS", run.stdout), run.stdout
        assert "greet: SUCCESS" in run.stdout
        failed = alice.run("bundle", "run", "hello", "-t", "shared", "--params", "fail=yes",
                           cwd=root, ok=False, **env_a)
        assert failed.returncode == 1
        assert "fail_maybe" in failed.stdout and "asked to fail" in failed.stdout
        # nothing of the workspace is on alice's side
        assert not (alice.home / "workspaces").exists()
        import os
        import subprocess
        import sys

        with tempfile.TemporaryDirectory() as elsewhere:  # a working directory of its own
            proc = subprocess.run(
                [sys.executable, "-c", MLFLOW_REMOTE, url, "/Users/alice@example.com/shared-exp"],
                capture_output=True, text=True, timeout=300, cwd=elsewhere,
                env={**os.environ, "MLFLOW_TRACKING_TOKEN": tokens["alice"]})
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip().endswith("logged remotely"), proc.stdout
            assert not os.listdir(elsewhere)  # nothing landed where the client runs
        assert list((tmp_path / "server-home").rglob("note.txt"))  # the server keeps it

        # the same objects, seen through the SDK by each user
        def client(user: str) -> WorkspaceClient:
            return WorkspaceClient(host=url, token=tokens[user], auth_type="pat")

        job = client("alice").jobs.get(job_id)
        assert job.settings.name == "hello-alice" and job.creator_user_name == "alice@example.com"
        files = client("alice").workspace.list(
            "/Workspace/Users/alice@example.com/.bundle/shared/shared/files")
        assert {Path(f.path).name for f in files} >= {"greet", "check", "databricks.yml"}

        # bob is not in the job's permissions: he sees nothing, and cannot change it
        assert [j.job_id for j in client("bob").jobs.list()] == []
        with pytest.raises(NotFound):
            client("bob").jobs.get(job_id)
        # alice lets bob view it through the permissions API, then takes it back
        from databricks.sdk.service.jobs import JobAccessControlRequest, JobPermissionLevel

        client("alice").jobs.update_permissions(str(job_id), access_control_list=[
            JobAccessControlRequest(user_name="bob@example.com",
                                    permission_level=JobPermissionLevel.CAN_VIEW)])
        assert [j.job_id for j in client("bob").jobs.list()] == [job_id]
        acl = client("bob").jobs.get_permissions(str(job_id)).access_control_list
        assert {a.user_name for a in acl} == {"alice@example.com", "carol@example.com",
                                             "bob@example.com"}
        with pytest.raises(PermissionDenied):  # viewing is not managing
            client("bob").jobs.set_permissions(str(job_id), access_control_list=[])
        client("alice").jobs.set_permissions(str(job_id), access_control_list=[
            JobAccessControlRequest(user_name="carol@example.com",
                                    permission_level=JobPermissionLevel.CAN_VIEW)])
        assert [j.job_id for j in client("bob").jobs.list()] == []
        # carol may view it, not run it
        assert [j.job_id for j in client("carol").jobs.list()] == [job_id]
        with pytest.raises(PermissionDenied):
            client("carol").jobs.run_now(job_id)

        # bob deploys the same bundle with DATABRICKS_TOKEN: a job of his own, and alice's
        # stays as it was
        bob = Kiln(tmp_path / "bob-home", user="bob@laptop")
        bob.run("bundle", "deploy", "-t", "shared", cwd=root,
                DATABRICKS_TOKEN=tokens["bob"])
        mine = {j.settings.name for j in client("bob").jobs.list()}
        assert mine == {"hello-bob"}
        assert {j.settings.name for j in client("alice").jobs.list()} == {"hello-alice"}

        # carol may not change alice's job through the deploy API either
        carol = Kiln(tmp_path / "carol-home", user="carol@laptop")
        res = carol.run("bundle", "run", "hello", "-t", "shared", cwd=root, ok=False,
                        DATABRICKS_TOKEN=tokens["carol"])
        assert res.returncode == 1 and "not deployed" in res.stderr  # her target has none

        # a bad token: a clear error, nothing done
        bad = alice.run("bundle", "deploy", "-t", "shared", cwd=root, ok=False,
                        DATABRICKS_TOKEN="dkea-not-a-token")
        assert bad.returncode == 1
        assert "invalid, expired or revoked token" in bad.stderr
        assert "Traceback" not in bad.stderr

        # every mutating call was audited as its user on the server
        log = json.loads(admin.run("audit", "list", "-w", "shared", "-o", "json",
                                   "--limit", "500", cwd=tmp_path).stdout)
        deploys = [e for e in log if e.get("action") == "bundle.deploy"]
        assert {e["user"] for e in deploys} == {"alice@example.com", "bob@example.com"}
