"""``kiln server`` answers the official Databricks SDK: ``WorkspaceClient(host, token)``
against 127.0.0.1, with Databricks' error codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOK_HEADER as NB, write_files
from tests.e2e.helpers import Kiln
from tests.e2e.test_serving import Server, token

pytestmark = pytest.mark.e2e

BUNDLE = """
bundle: {name: api}
resources:
  jobs:
    hello:
      name: hello
      parameters: [{name: who, default: world}]
      tasks:
        - task_key: greet
          notebook_task: {notebook_path: ./greet.py}
    other:
      name: other
      tasks:
        - task_key: greet
          notebook_task: {notebook_path: ./greet.py}
"""


def test_the_databricks_sdk_reads_and_runs_jobs_through_kiln_server(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound, Unauthenticated
    from databricks.sdk.service.jobs import RunResultState

    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {
        "databricks.yml": BUNDLE,
        "greet.py": NB + "dbutils.notebook.exit('hello ' + dbutils.widgets.get('who'))\n"})
    kiln.run("bundle", "deploy", cwd=root)
    value = token(kiln, root)
    server = Server(kiln, root)
    try:
        w = WorkspaceClient(host=server.url, token=value, auth_type="pat")
        assert w.current_user.me().user_name == "alice@example.com"
        jobs = {j.settings.name: j for j in w.jobs.list(limit=1)}  # pages of one
        assert set(jobs) == {"hello", "other"}
        job = w.jobs.get(jobs["hello"].job_id)
        assert job.settings.tasks[0].task_key == "greet"

        run = w.jobs.run_now(job.job_id, job_parameters={"who": "sdk"}).result()
        assert run.state.result_state == RunResultState.SUCCESS
        runs = list(w.jobs.list_runs(job_id=job.job_id))
        assert [r.run_id for r in runs] == [run.run_id]

        with pytest.raises(NotFound):  # RESOURCE_DOES_NOT_EXIST is a 404
            w.jobs.get(999)
        bad = WorkspaceClient(host=server.url, token="not-a-token", auth_type="pat")
        with pytest.raises(Unauthenticated):
            bad.jobs.get(job.job_id)
    finally:
        assert server.stop() == 0
    # the run was started by the server and is in the workspace like any other
    doc = json.loads(kiln.run("runs", "get", str(run.run_id), cwd=root).stdout)
    assert doc["state"]["result_state"] == "SUCCESS"
    assert {"name": "who", "value": "sdk"} in doc["job_parameters"]
    assert "jobs.run_now" in kiln.run("audit", "list", cwd=root).stdout
