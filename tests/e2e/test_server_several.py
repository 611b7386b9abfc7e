"""``kiln server -w a -w b``: two workspaces on one port. Each request reaches the workspace
that issued its token, through the official SDK and the MLflow client alike; the two
workspaces share nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import Kiln
from tests.e2e.test_serving import Server

pytestmark = pytest.mark.e2e

MLFLOW_RUN = """
import sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("/Shared/where")
with mlflow.start_run() as run:
    mlflow.log_param("workspace", sys.argv[2])
client = mlflow.MlflowClient()
print(sorted(r.data.params["workspace"] for r in client.search_runs(
    [mlflow.get_experiment_by_name("/Shared/where").experiment_id])))
"""


def test_two_workspaces_share_one_port_and_nothing_else(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import jobs
    from databricks.sdk.service.catalog import VolumeType

    kiln = Kiln(tmp_path / "home", user="admin@example.com")
    server = Server(kiln, tmp_path, "-w", "a", "-w", "b")
    backends = children_of(server.proc.pid)
    assert len(backends) == 2  # a server process per workspace
    try:
        tokens = {ws: json.loads(kiln.run("tokens", "create", "-w", ws, "--user",
                                          f"{user}@example.com", cwd=tmp_path).stdout
                                 )["token_value"] for ws, user in (("a", "alice"), ("b", "bob"))}
        a, b = (WorkspaceClient(host=server.url, token=tokens[ws], auth_type="pat")
                for ws in ("a", "b"))
        assert a.current_user.me().user_name == "alice@example.com"
        assert b.current_user.me().user_name == "bob@example.com"

        made = a.jobs.create(name="only-in-a", tasks=[jobs.Task(
            task_key="t", spark_python_task=jobs.SparkPythonTask(python_file="/x.py"))])
        assert [j.settings.name for j in a.jobs.list()] == ["only-in-a"]
        assert list(b.jobs.list()) == []
        # the job lives in a's store, and b's CLI does not know it either
        listed_a = kiln.run("jobs", "list", "-w", "a", cwd=tmp_path).stdout
        listed_b = kiln.run("jobs", "list", "-w", "b", cwd=tmp_path).stdout
        assert "only-in-a" in listed_a and "only-in-a" not in listed_b
        assert made.job_id is not None

        # MLflow: each token's runs land in its own workspace's tracking store
        for ws in ("a", "b", "a"):
            proc = subprocess.run([sys.executable, "-c", MLFLOW_RUN, server.url, ws],
                                  capture_output=True, text=True, timeout=300,
                                  env={**os.environ, "MLFLOW_TRACKING_TOKEN": tokens[ws]})
            assert proc.returncode == 0, proc.stderr
            seen = proc.stdout.strip().splitlines()[-1]
        assert seen == "['a', 'a']"

        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/health").json() == {"status": "ok",
                                                   "workspaces": {"a": True, "b": True}}
            for headers in ({}, {"Authorization": "Bearer dkea-unknown"}):
                r = http.get("/api/2.0/preview/scim/v2/Me", headers=headers)
                assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"
            # a revoked token stops at once, though the front remembers whose it was
            tid = next(t["token_id"] for t in json.loads(kiln.run(
                "tokens", "list", "-w", "b", cwd=tmp_path).stdout)
                if t["created_by"] == "bob@example.com")
            kiln.run("tokens", "revoke", tid, "-w", "b", cwd=tmp_path)
            r = http.get("/api/2.0/preview/scim/v2/Me",
                         headers={"Authorization": f"Bearer {tokens['b']}"})
            assert r.status_code == 401
            # a large body streams through both ways unchanged
            blob = os.urandom(3 * 1024 * 1024)
            auth = {"Authorization": f"Bearer {tokens['a']}"}
            a.catalogs.create(name="main")
            a.schemas.create(name="s", catalog_name="main")
            a.volumes.create(catalog_name="main", schema_name="s", name="v",
                             volume_type=VolumeType.MANAGED)
            put = http.put("/api/2.0/fs/files/Volumes/main/s/v/blob.bin", content=blob,
                           headers={**auth, "Content-Type": "application/octet-stream"})
            assert put.status_code in (200, 204), put.text
            assert http.get("/api/2.0/fs/files/Volumes/main/s/v/blob.bin",
                            headers=auth).content == blob
    finally:
        assert server.stop() == 0
    # the workspaces' own server processes went with the front
    deadline = time.monotonic() + 15
    while any(alive(p) for p in backends) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in backends if alive(p)]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.isdigit() and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
