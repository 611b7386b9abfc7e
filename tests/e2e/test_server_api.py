"""``kiln server`` answers the official Databricks SDK: ``WorkspaceClient(host, token)``
against 127.0.0.1, with Databricks' error codes."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def served(tmp_path: Path, greet: str = "1\n", bundle: str = BUNDLE,
           **files: str) -> Iterator[tuple[Kiln, Path, str, str]]:
    """A deployed bundle's workspace behind a running ``kiln server``: (kiln, bundle root,
    the server's URL, a token of the current user). The server must stop cleanly."""
    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": bundle, "greet.py": NB + greet,
                                        **files})
    kiln.run("bundle", "deploy", cwd=root)
    value = token(kiln, root)
    server = Server(kiln, root)
    try:
        yield kiln, root, server.url, value
    finally:
        assert server.stop() == 0


def test_the_databricks_sdk_reads_and_runs_jobs_through_kiln_server(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound, Unauthenticated
    from databricks.sdk.service.jobs import RunResultState

    greet = "dbutils.notebook.exit('hello ' + dbutils.widgets.get('who'))\n"
    with served(tmp_path, greet) as (kiln, root, url, value):
        w = WorkspaceClient(host=url, token=value, auth_type="pat")
        assert w.current_user.me().user_name == "alice@example.com"
        jobs = {j.settings.name: j for j in w.jobs.list(limit=1)}  # pages of one
        assert set(jobs) == {"hello", "other"}
        job = w.jobs.get(jobs["hello"].job_id)
        assert job.settings.tasks[0].task_key == "greet"

        bob = WorkspaceClient(host=url, token=token(kiln, root, "bob@example.com"),
                              auth_type="pat")
        assert bob.current_user.me().user_name == "bob@example.com"
        run = bob.jobs.run_now(job.job_id, job_parameters={"who": "sdk"}).result()
        assert run.state.result_state == RunResultState.SUCCESS
        runs = list(w.jobs.list_runs(job_id=job.job_id))
        assert [r.run_id for r in runs] == [run.run_id]

        with pytest.raises(NotFound):  # RESOURCE_DOES_NOT_EXIST is a 404
            w.jobs.get(999)
        bad = WorkspaceClient(host=url, token="not-a-token", auth_type="pat")
        with pytest.raises(Unauthenticated):
            bad.jobs.get(job.job_id)
        # a revoked token and an expired one stop at once
        for args in (["--lifetime-seconds", "1"], []):
            doc = json.loads(kiln.run("tokens", "create", *args, cwd=root).stdout)
            gone = WorkspaceClient(host=url, token=doc["token_value"], auth_type="pat")
            assert gone.current_user.me().user_name == "alice@example.com"
            if args:
                time.sleep(1.5)
            else:
                kiln.run("tokens", "revoke", doc["token_info"]["token_id"], cwd=root)
            with pytest.raises(Unauthenticated):
                gone.current_user.me()
    # the run was started by the server and is in the workspace like any other
    doc = json.loads(kiln.run("runs", "get", str(run.run_id), cwd=root).stdout)
    assert doc["state"]["result_state"] == "SUCCESS"
    assert {"name": "who", "value": "sdk"} in doc["job_parameters"]
    # audited as the token's user, not the server's, with the request and its result
    audit = kiln.run("audit", "list", cwd=root).stdout.splitlines()
    (line,) = [ln for ln in audit if "jobs.run_now" in ln]
    assert "bob@example.com" in line
    entries = json.loads(kiln.run("audit", "list", "-o", "json", cwd=root).stdout)
    (entry,) = [e for e in entries if e["target"] == "POST /api/2.2/jobs/run-now"]
    assert entry["user"] == "bob@example.com" and entry["action"] == "api.request"
    assert entry["detail"]["status"] == 200 and entry["detail"]["client"].startswith("127.0.0.1:")


def test_workspace_files_and_secrets_through_the_sdk(tmp_path: Path) -> None:
    import base64

    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import BadRequest, NotFound, PermissionDenied, ResourceAlreadyExists
    from databricks.sdk.service.workspace import ImportFormat, Language, ObjectType

    with served(tmp_path, "print('hi')\n") as (kiln, root, url, value):
        w = WorkspaceClient(host=url, token=value, auth_type="pat")
        folder = "/Workspace/Users/alice@example.com/sdk"
        w.workspace.mkdirs(folder)
        source = b"print('from the sdk')\n"
        w.workspace.import_(f"{folder}/nb", content=base64.b64encode(source).decode(),
                            format=ImportFormat.SOURCE, language=Language.PYTHON)
        w.workspace.import_(f"{folder}/data.txt", content=base64.b64encode(b"x").decode(),
                            format=ImportFormat.AUTO)
        listed = {o.path: o.object_type for o in w.workspace.list(folder)}
        assert listed == {f"{folder}/nb": ObjectType.NOTEBOOK,
                          f"{folder}/data.txt": ObjectType.FILE}
        assert w.workspace.get_status(f"{folder}/nb").object_type == ObjectType.NOTEBOOK
        exported = base64.b64decode(w.workspace.export(f"{folder}/nb").content)
        assert exported.startswith(b"# Databricks notebook source\n") and source in exported
        with pytest.raises(ResourceAlreadyExists):
            w.workspace.import_(f"{folder}/nb", content=base64.b64encode(b"1").decode(),
                                format=ImportFormat.SOURCE, language=Language.PYTHON)
        with pytest.raises(BadRequest):  # no way out of the workspace
            w.workspace.get_status("/Workspace/../../etc/passwd")
        w.workspace.delete(folder, recursive=True)
        with pytest.raises(NotFound):
            w.workspace.get_status(folder)

        w.secrets.create_scope("app")
        w.secrets.put_secret("app", "key", string_value="s3cr3t")
        assert [s.key for s in w.secrets.list_secrets("app")] == ["key"]
        with pytest.raises(PermissionDenied):  # values reach job runs only, never a person
            w.secrets.get_secret("app", "key")
        assert "app" in [s.name for s in w.secrets.list_scopes()]
    # what the SDK wrote is the workspace's, for the CLI too
    assert kiln.run("secrets", "list-secrets", "app", cwd=root).stdout.split() == ["key"]


def test_catalog_models_aliases_and_serving_through_the_sdk(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import BadRequest, NotFound

    from tests.e2e.test_serving import ROW, setup

    kiln = Kiln(tmp_path / "home")
    root = setup(kiln, tmp_path)  # schema main.ml, model main.ml.churn v1 @champion, v2
    value = token(kiln, root)
    server = Server(kiln, root)
    try:
        w = WorkspaceClient(host=server.url, token=value, auth_type="pat")
        assert "main" in [c.name for c in w.catalogs.list()]
        w.schemas.create(name="scratch", catalog_name="main")
        assert {s.name for s in w.schemas.list(catalog_name="main")} >= {"ml", "scratch"}
        answer = w.serving_endpoints.query(name="churn-live", dataframe_records=[ROW])
        assert answer.predictions == [1]
        deadline = time.monotonic() + 30  # the endpoint writes its inference table
        while "live_payload" not in {t.name for t in w.tables.list(catalog_name="main",
                                                                     schema_name="ml")}:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert w.tables.get("main.ml.live_payload").data_source_format.value == "DELTA"
        with pytest.raises(NotFound):
            w.tables.get("main.ml.nope")

        (model,) = w.registered_models.list(catalog_name="main", schema_name="ml")
        assert model.full_name == "main.ml.churn"
        assert [(a.alias_name, a.version_num) for a in model.aliases] == [("champion", 1)]
        assert [v.version for v in w.model_versions.list("main.ml.churn")] == [1, 2]
        assert w.model_versions.get_by_alias("main.ml.churn", "champion").version == 1
        with pytest.raises(BadRequest):  # the approval policy still holds through the API
            kiln.run("models", "policy", "--require-approval", "champion", cwd=root)
            w.registered_models.set_alias("main.ml.churn", "champion", 2)
        w.registered_models.set_alias("main.ml.churn", "challenger", 2)
        assert w.model_versions.get_by_alias("main.ml.churn", "challenger").version == 2
        w.registered_models.delete_alias("main.ml.churn", "challenger")
        with pytest.raises(NotFound):
            w.model_versions.get_by_alias("main.ml.churn", "challenger")

        # what the SDK creates it can change and delete: models, versions, containers
        from databricks.sdk.errors import ResourceAlreadyExists
        from databricks.sdk.service.catalog import VolumeType

        made = w.registered_models.create(catalog_name="main", schema_name="scratch",
                                          name="empty", comment="to go")
        assert (made.full_name, made.comment) == ("main.scratch.empty", "to go")
        with pytest.raises(ResourceAlreadyExists):
            w.registered_models.create(catalog_name="main", schema_name="scratch", name="empty")
        assert w.registered_models.update("main.scratch.empty", comment="kept").comment == "kept"
        w.registered_models.delete("main.scratch.empty")
        with pytest.raises(NotFound):
            w.registered_models.get("main.scratch.empty")
        w.model_versions.delete("main.ml.churn", 2)
        assert [v.version for v in w.model_versions.list("main.ml.churn")] == [1]
        w.volumes.create(catalog_name="main", schema_name="scratch", name="v",
                         volume_type=VolumeType.MANAGED)
        with pytest.raises(BadRequest):  # not empty: a volume is in it
            w.schemas.delete("main.scratch")
        w.schemas.delete("main.scratch", force=True)
        with pytest.raises(NotFound):
            w.volumes.read("main.scratch.v")
        assert "scratch" not in {s.name for s in w.schemas.list(catalog_name="main")}
        w.tables.delete("main.ml.live_payload")
        with pytest.raises(NotFound):
            w.tables.get("main.ml.live_payload")
    finally:
        assert server.stop() == 0


MLFLOW_CLIENT = """
import mlflow, sys
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("/Shared/remote")
with mlflow.start_run() as run:
    mlflow.log_param("c", 1.0)
    mlflow.log_metric("auc", 0.9)
    info = mlflow.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]),
                                    name="model", registered_model_name="main.ml.remote")
client = MlflowClient()
client.set_registered_model_alias("main.ml.remote", "champion", info.registered_model_version)
mv = client.get_model_version_by_alias("main.ml.remote", "champion")
model = mlflow.pyfunc.load_model("models:/main.ml.remote@champion")
print(mv.version, run.info.run_id, int(model.predict([[1.0]])[0]))
"""


def test_the_mlflow_client_tracks_and_registers_through_kiln_server(tmp_path: Path) -> None:
    import subprocess
    import sys

    with served(tmp_path, **{"client.py": MLFLOW_CLIENT}) as (kiln, root, url, value):
        env = {k: v for k, v in kiln.env().items() if not k.startswith("MLFLOW_")}
        refused = subprocess.run([sys.executable, "client.py", url], cwd=root,
                                 env=env, capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0  # no token, no MLflow
        proc = subprocess.run([sys.executable, "client.py", url], cwd=root,
                              env={**env, "MLFLOW_TRACKING_TOKEN": value},
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        version, run_id, prediction = proc.stdout.split()[-3:]
        assert version == "1" and prediction == "1"
    # the workspace's own registry has it, alias and all
    versions = json.loads(kiln.run("models", "versions", "main.ml.remote", "-o", "json",
                                   cwd=root).stdout)
    assert versions[0]["aliases"] == ["champion"] and versions[0]["run_id"] == run_id
    # its artifacts went over HTTP (a client on another machine can log and load models)
    # into the workspace's artifact root, where a process on the store reads them
    local = ("import json, mlflow, sys\n"
             "run = mlflow.get_run(sys.argv[1])\n"
             "model = mlflow.pyfunc.load_model('models:/main.ml.remote@champion')\n"
             "print(json.dumps([run.info.artifact_uri, int(model.predict([[1.0]])[0])]))\n")
    env = dict(kiln.env())
    for line in kiln.run("env", cwd=root).stdout.splitlines():
        key, _, val = line.removeprefix("export ").partition("=")
        env[key] = val.strip("'")
    proc = subprocess.run([sys.executable, "-c", local, run_id], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    artifact_uri, prediction = json.loads(proc.stdout.strip().splitlines()[-1])
    assert artifact_uri.startswith("mlflow-artifacts:/") and prediction == 1
    stored = Path(env["KILN_WORKSPACE_DIR"]) / "mlflow" / "artifacts"
    assert list(stored.glob(f"*/{run_id}/artifacts")) or list(stored.glob("*/models/*"))


def test_a_job_made_through_the_sdk_runs_a_notebook_uploaded_through_it(tmp_path: Path) -> None:
    import base64

    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import BadRequest, PermissionDenied
    from databricks.sdk.service import jobs as j
    from databricks.sdk.service.workspace import ImportFormat, Language

    with served(tmp_path) as (kiln, root, url, value):
        w = WorkspaceClient(host=url, token=value, auth_type="pat")
        path = "/Workspace/Users/alice@example.com/made/hello"
        w.workspace.mkdirs("/Workspace/Users/alice@example.com/made")
        w.workspace.import_(path, format=ImportFormat.SOURCE, language=Language.PYTHON,
                            content=base64.b64encode(
                                b"dbutils.notebook.exit('made by the sdk')\n").decode())
        created = w.jobs.create(name="made", tasks=[j.Task(
            task_key="hello", notebook_task=j.NotebookTask(notebook_path=path))])
        run = w.jobs.run_now(created.job_id).result()
        assert run.state.result_state == j.RunResultState.SUCCESS
        with pytest.raises(BadRequest):  # a task without a type cannot run
            w.jobs.create(name="broken", tasks=[j.Task(task_key="t")])
        w.jobs.reset(created.job_id, j.JobSettings(name="renamed", tasks=[j.Task(
            task_key="hello", notebook_task=j.NotebookTask(notebook_path=path))]))
        assert w.jobs.get(created.job_id).settings.name == "renamed"
        (task,) = run.tasks
        output = w.jobs.get_run_output(task.run_id)  # each task run has its own id
        assert output.notebook_output.result == "made by the sdk"

        # the run reaches the server as itself: dbutils.secrets through the server with the
        # run's own token, and Databricks' SDK with no arguments, as in a notebook there
        w.secrets.create_scope("app")
        w.secrets.put_secret("app", "password", string_value="s3cr3t-value")
        reader = ("from databricks.sdk import WorkspaceClient\n"
                  "me = WorkspaceClient().current_user.me().user_name\n"
                  "value = dbutils.secrets.get('app', 'password')\n"
                  "print('the password is', value)\n"
                  "import os; print('the token is', os.environ['DATABRICKS_TOKEN'])\n"
                  "dbutils.notebook.exit(f'{me} {len(value)} {value == \"s3cr3t-value\"}')\n")
        w.workspace.import_(path + "-secret", format=ImportFormat.SOURCE,
                            language=Language.PYTHON,
                            content=base64.b64encode(reader.encode()).decode())
        job = w.jobs.create(name="secret", tasks=[j.Task(
            task_key="read", notebook_task=j.NotebookTask(notebook_path=path + "-secret"))])
        done = w.jobs.run_now(job.job_id).result()
        said = w.jobs.get_run_output(done.tasks[0].run_id)
        assert said.notebook_output.result == "alice@example.com 12 True", said.error
        logs = said.logs or ""
        assert "s3cr3t-value" not in logs and "dkea" not in logs
        assert logs.count("[REDACTED]") == 2, logs
        with pytest.raises(PermissionDenied):  # a person's token never reads a value
            w.api_client.do("GET", "/api/2.0/secrets/get",
                            query={"scope": "app", "key": "password"})
    out = json.loads(kiln.run("runs", "get-output", str(run.run_id), cwd=root).stdout)
    assert out["notebook_output"]["result"] == "made by the sdk"
    entries = json.loads(kiln.run("audit", "list", "-o", "json", cwd=root).stdout)
    reads = [e for e in entries if e["action"] == "secrets.read"]
    assert [(e["user"], e["target"]) for e in reads] == [("alice@example.com", "app/password")]


def test_job_permissions_hold_through_the_api(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound, PermissionDenied

    guarded = BUNDLE.replace("      name: other\n", "      name: other\n      permissions: "
                             "[{level: CAN_VIEW, user_name: bob@example.com}]\n")
    with served(tmp_path, bundle=guarded) as (kiln, root, url, value):
        def client(user: str) -> WorkspaceClient:
            return WorkspaceClient(host=url, token=token(kiln, root, user), auth_type="pat")

        alice, bob, carol = client("alice@example.com"), client("bob@example.com"), \
            client("carol@example.com")
        other = {j.settings.name: j.job_id for j in alice.jobs.list()}["other"]
        assert bob.jobs.get(other).settings.name == "other"  # CAN_VIEW
        with pytest.raises(PermissionDenied):  # 403: viewing is not running
            bob.jobs.run_now(other)
        with pytest.raises(PermissionDenied):
            bob.jobs.delete(other)
        with pytest.raises(NotFound):  # not listed: the job does not exist for carol
            carol.jobs.get(other)
        assert "other" not in {j.settings.name for j in carol.jobs.list()}
        assert "hello" in {j.settings.name for j in carol.jobs.list()}  # no list: open
        run = alice.jobs.run_now(other).result()  # the deployer owns it
        assert bob.jobs.get_run(run.run_id).run_id == run.run_id
        with pytest.raises(NotFound):
            carol.jobs.get_run(run.run_id)


MONITORED = """
bundle: {name: mon}
resources:
  schemas:
    ml: {name: ml, catalog_name: main}
  jobs:
    data:
      name: data
      tasks: [{task_key: t, notebook_task: {notebook_path: ./data.py}}]
  quality_monitors:
    events:
      table_name: main.ml.events
      output_schema_name: main.ml
      assets_dir: /Workspace/Shared/monitors/events
      snapshot: {}
"""

DATA = """import numpy as np, pandas as pd
import kiln.tables as tables
rng = np.random.default_rng(0)
tables.write("main.ml.events", pd.DataFrame({"v": rng.normal(size=200)}), mode="overwrite")
"""


def test_quality_monitors_through_the_sdk(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.catalog import MonitorRefreshInfoState

    with served(tmp_path, bundle=MONITORED, **{"data.py": NB + DATA}) as (kiln, root, url, value):
        kiln.run("bundle", "run", "data", cwd=root)
        w = WorkspaceClient(host=url, token=value, auth_type="pat")
        info = w.quality_monitors.get("main.ml.events")
        assert info.drift_metrics_table_name == "main.ml.events_drift_metrics"
        done = w.quality_monitors.run_refresh("main.ml.events")
        assert done.state == MonitorRefreshInfoState.SUCCESS
        assert [r.refresh_id for r in w.quality_monitors.list_refreshes("main.ml.events")
                .refreshes] == [done.refresh_id]
        again = w.quality_monitors.get_refresh("main.ml.events", str(done.refresh_id))
        assert again.state == MonitorRefreshInfoState.SUCCESS
        assert "events_profile_metrics" in {t.name for t in w.tables.list(
            catalog_name="main", schema_name="ml")}
        with pytest.raises(NotFound):
            w.quality_monitors.get("main.ml.nope")

        # a monitor made over REST, as the SDK makes one: refreshed, changed, deleted
        from databricks.sdk.errors import InvalidParameterValue, ResourceAlreadyExists
        from databricks.sdk.service.catalog import (
            MonitorInferenceLog,
            MonitorInferenceLogProblemType,
            MonitorSnapshot,
        )

        import pandas as pd
        from deltalake import write_deltalake

        ids = pd.RangeIndex(400)
        write_deltalake(str(tmp_path / "scored"), pd.DataFrame({
            "p": ids.astype(float), "y": (ids % 2).astype(float), "m": "v1",
            "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(ids % 48, unit="h")}))
        kiln.run("tables", "create", "main.ml.scored", "--location", str(tmp_path / "scored"),
                 cwd=root)
        log = MonitorInferenceLog(timestamp_col="ts", granularities=["1 day"],
                                  model_id_col="m", prediction_col="p", label_col="y",
                                  problem_type=MonitorInferenceLogProblemType.PROBLEM_TYPE_REGRESSION)
        made = w.quality_monitors.create(table_name="main.ml.scored", assets_dir="/Shared/m",
                                         output_schema_name="main.ml", inference_log=log)
        assert made.profile_metrics_table_name == "main.ml.scored_profile_metrics"
        assert w.quality_monitors.run_refresh("main.ml.scored").state == \
            MonitorRefreshInfoState.SUCCESS
        with pytest.raises(ResourceAlreadyExists):
            w.quality_monitors.create(table_name="main.ml.scored", assets_dir="/Shared/m",
                                      output_schema_name="main.ml", inference_log=log)
        for bad in ({"output_schema_name": "main.nope", "inference_log": log},
                    {"output_schema_name": "main.ml"}):  # no schema; no profile type
            with pytest.raises((NotFound, InvalidParameterValue)):
                w.quality_monitors.create(table_name="main.ml.events2", assets_dir="/Shared/m",
                                          **bad)
        with pytest.raises(NotFound):  # the table itself must exist
            w.quality_monitors.create(table_name="main.ml.absent", assets_dir="/Shared/m",
                                      output_schema_name="main.ml", inference_log=log)
        changed = w.quality_monitors.update(table_name="main.ml.scored",
                                            output_schema_name="main.ml",
                                            snapshot=MonitorSnapshot())
        assert changed.snapshot is not None and changed.inference_log is None
        w.quality_monitors.delete("main.ml.scored")
        with pytest.raises(NotFound):
            w.quality_monitors.get("main.ml.scored")
        assert "scored_profile_metrics" in {t.name for t in w.tables.list(
            catalog_name="main", schema_name="ml")}  # the metric tables stay


def test_tokens_job_updates_and_one_time_runs_through_the_sdk(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import Unauthenticated
    from databricks.sdk.service import jobs as j

    with served(tmp_path, "dbutils.notebook.exit('once')\n") as (kiln, root, url, value):
        w = WorkspaceClient(host=url, token=value, auth_type="pat")
        made = w.tokens.create(comment="ci", lifetime_seconds=600)
        ci = WorkspaceClient(host=url, token=made.token_value, auth_type="pat")
        assert ci.current_user.me().user_name == "alice@example.com"
        assert made.token_info.token_id in {t.token_id for t in w.tokens.list()}
        bob = WorkspaceClient(host=url, token=token(kiln, root, "bob@example.com"),
                              auth_type="pat")
        assert made.token_info.token_id not in {t.token_id for t in bob.tokens.list()}
        w.tokens.delete(made.token_info.token_id)
        with pytest.raises(Unauthenticated):  # revoked: refused at once
            ci.current_user.me()

        job = {x.settings.name: x for x in w.jobs.list()}["hello"]
        path = job.settings.tasks[0].notebook_task.notebook_path
        w.jobs.update(job.job_id, new_settings=j.JobSettings(
            timeout_seconds=600, tasks=[j.Task(task_key="greet", timeout_seconds=300,
                                               notebook_task=j.NotebookTask(path))]),
            fields_to_remove=["parameters"])
        got = w.jobs.get(job.job_id).settings
        assert got.timeout_seconds == 600 and not got.parameters
        assert [(t.task_key, t.timeout_seconds) for t in got.tasks] == [("greet", 300)]

        run = w.jobs.submit(run_name="once", tasks=[j.SubmitTask(
            task_key="t", notebook_task=j.NotebookTask(path))]).result()
        assert run.state.result_state == j.RunResultState.SUCCESS

        def run_as(run_id: int) -> str:  # not in this SDK's Run: read the raw document
            return w.api_client.do("GET", "/api/2.2/jobs/runs/get",
                                   query={"run_id": run_id})["run_as_user_name"]

        assert run_as(run.run_id) == "alice@example.com"
        assert w.jobs.get_run_output(run.tasks[0].run_id).notebook_output.result == "once"
        assert "once" not in {x.settings.name for x in w.jobs.list()}
        # a job runs as its owner whoever starts it (bob may: no permissions on it)
        started = bob.jobs.run_now(job.job_id).result()
        assert run_as(started.run_id) == "alice@example.com"
        assert started.creator_user_name == "bob@example.com"


def test_kiln_server_fires_scheduled_jobs(tmp_path: Path) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import jobs as j

    with served(tmp_path) as (kiln, root, url, value):
        w = WorkspaceClient(host=url, token=value, auth_type="pat")
        path = next(iter(w.jobs.list())).settings.tasks[0].notebook_task.notebook_path
        job = w.jobs.create(name="every-2s", tasks=[j.Task(
            task_key="t", notebook_task=j.NotebookTask(path))],
            schedule=j.CronSchedule(quartz_cron_expression="0/2 * * * * ?", timezone_id="UTC"))
        deadline = time.monotonic() + 60
        while not list(w.jobs.list_runs(job_id=job.job_id)):
            assert time.monotonic() < deadline, "the server's scheduler fired nothing"
            time.sleep(0.5)
        w.jobs.update(job.job_id, new_settings=j.JobSettings(schedule=j.CronSchedule(
            quartz_cron_expression="0/2 * * * * ?", timezone_id="UTC",
            pause_status=j.PauseStatus.PAUSED)))


# the lifecycle in a task a server runs: the model logs and registers through the server,
# the task evaluates it, and the server records the outcome and moves the aliases
LIFECYCLE = """# Databricks notebook source
import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression
import kiln.lifecycle as lifecycle
mlflow.set_registry_uri("databricks-uc")
mlflow.set_experiment("/Shared/lifecycle")
X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0] * 10})
y = (X.x > 1.5).astype(int)
with mlflow.start_run():
    info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                                    registered_model_name="main.ml.life",
                                    serialization_format="cloudpickle",
                                    pip_requirements=["scikit-learn"])
version = info.registered_model_version
result = lifecycle.validate(f"models:/main.ml.life/{version}", X.assign(y=y), targets="y",
                            thresholds={"accuracy_score": {"threshold": 0.9,
                                                          "greater_is_better": True}})
previous = lifecycle.deploy("main.ml.life", result.version)
dbutils.notebook.exit(f"{result.status} {result.version} {previous}")
"""


def test_the_model_lifecycle_runs_in_a_task_of_the_server(tmp_path: Path) -> None:
    import base64

    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import jobs as j
    from databricks.sdk.service.workspace import ImportFormat, Language

    with served(tmp_path) as (kiln, root, url, value):
        w = WorkspaceClient(host=url, token=value, auth_type="pat")
        w.catalogs.create(name="main")
        w.schemas.create(name="ml", catalog_name="main")
        path = "/Workspace/Users/alice@example.com/life"
        w.workspace.mkdirs("/Workspace/Users/alice@example.com")
        w.workspace.import_(path, format=ImportFormat.SOURCE, language=Language.PYTHON,
                            content=base64.b64encode(LIFECYCLE.encode()).decode())
        job = w.jobs.create(name="life", tasks=[j.Task(
            task_key="train", notebook_task=j.NotebookTask(notebook_path=path))])
        done = w.jobs.run_now(job.job_id).result()
        said = w.jobs.get_run_output(done.tasks[0].run_id)
        assert said.notebook_output and said.notebook_output.result == "passed 1 None", \
            said.error
        assert w.model_versions.get_by_alias("main.ml.life", "champion").version == 1
        assert [a.alias_name for a in w.registered_models.get("main.ml.life").aliases] == \
            ["champion"]  # the challenger became the champion
    entries = json.loads(kiln.run("audit", "list", "-o", "json", cwd=root).stdout)
    done_by = {e["action"]: e["user"] for e in entries
               if e["action"] in ("models.validate", "models.set_alias")}
    assert done_by == {"models.validate": "alice@example.com",
                       "models.set_alias": "alice@example.com"}, done_by
