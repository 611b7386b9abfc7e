"""Task code's workspace client: the embedded workspace's calls in process, and a kiln
server's REST API with a job run's own token, answer the same questions the same way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.errors import KilnError, PermissionDenied
from kiln.workspace import NotFound
from kiln.workspace.local import WorkspaceHome
from kiln.workspace.task_client import EmbeddedClient, ServerClient
from tests.workspace.loopback import rest_app

RUNNING = {"state": {"life_cycle_state": "RUNNING"}}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Any]:
    w = WorkspaceHome(str(tmp_path)).open("dev", "alice@example.com")
    w.create_scope("db")
    w.put_secret("db", "password", "s3cr3t")
    w.put_secret("db", "user", "app")
    w.create_scope("empty")
    yield w
    w.close()


def run_token(ws: Any, doc: dict[str, Any] = RUNNING) -> str:
    job = ws.create("jobs", "j", {"name": "j"})
    run_id = ws.create_run(int(job.id), doc)
    return ws.create_token("alice@example.com", "job run", 3600, run_id=run_id)[1]


@pytest.fixture(params=["embedded", "server"])
def client(request: pytest.FixtureRequest, ws: Any,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if request.param == "embedded":  # a task of alice's
        monkeypatch.setenv("KILN_USER", "alice@example.com")
        yield EmbeddedClient(ws.local_root())
        return
    token = run_token(ws)
    with rest_app(ws) as url:
        yield ServerClient(url, token)


def run_of(client: Any, ws: Any) -> int:
    """The job run the client works for: the server's run token's, or the newest run."""
    return max(r["run_id"] for r in ws.list_runs(None, 10)) if isinstance(
        client, ServerClient) else int(ws.create_run(int(ws.create("jobs", "j", {
            "name": "j"}).id), RUNNING))


def test_secrets_read_the_same_through_either_client(client: Any, ws: Any) -> None:
    assert client.secret("db", "password") == "s3cr3t"
    assert client.secret_keys("db") == ["password", "user"]
    assert client.secret_keys("empty") == []
    assert client.secret_scopes() == ["db", "empty"]
    with pytest.raises(NotFound):
        client.secret("db", "nope")
    with pytest.raises(NotFound):
        client.secret_keys("nope")


def test_whether_grants_are_enforced_the_same_through_either_client(client: Any,
                                                                     ws: Any) -> None:
    from kiln.identity import Identities

    assert client.enforces_grants() is False  # no admins: nothing is enforced
    Identities(ws).add("root@example.com", "USER")
    Identities(ws).set_membership("admins", "root@example.com", True)
    assert client.enforces_grants() is True


def test_only_an_active_runs_own_token_reads_a_secrets_value(ws: Any) -> None:
    person = ws.create_token("alice@example.com")[1]
    done = run_token(ws, {"state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}})
    with rest_app(ws) as url:
        for token in (person, done):
            with pytest.raises(PermissionDenied):
                ServerClient(url, token).secret("db", "password")
        # the keys are no secret: anyone may list them, as the REST API lists them
        assert ServerClient(url, person).secret_keys("db") == ["password", "user"]
        with pytest.raises(KilnError):
            ServerClient(url, "dkea-not-a-token").secret_scopes()


def test_tables_read_and_write_the_same_through_either_client(client: Any, ws: Any) -> None:
    """The data is read and written here; the catalog decides, registers and records."""
    import pyarrow as pa

    from kiln.catalog import Catalog
    from kiln.catalog.data import Tables
    from kiln.run_context import RunContext

    Catalog(ws).create_catalog("main")
    Catalog(ws).create_schema("main", "ml")
    run = run_of(client, ws)
    tables = Tables(client.catalog(RunContext(run, "features")))
    assert tables.table_info("main.ml.f") is None
    assert tables.write("main.ml.f", pa.table({"id": [1, 2], "x": [1.0, 2.0]})) == 0
    info = tables.table_info("main.ml.f")
    assert info["table_type"] == "MANAGED"
    assert info["location"].startswith(ws.local_root())
    assert tables.write("main.ml.f", pa.table({"id": [3], "x": [3.0]})) == 1
    assert tables.write("main.ml.f", pa.table({"id": [1], "x": [9.0]}), mode="merge",
                        keys=["id"]) == 2
    assert tables.read("main.ml.f").sort_values("id")["x"].tolist() == [9.0, 2.0, 3.0]
    assert tables.read("main.ml.f", version=0)["x"].tolist() == [1.0, 2.0]
    assert [h["version"] for h in tables.history("main.ml.f")] == [2, 1, 0]
    assert tables.sql("SELECT sum(id) AS s FROM main.ml.f VERSION AS OF 1").to_pylist() == [
        {"s": 6}]
    assert tables.list_tables("main.ml") == ["main.ml.f"]
    with pytest.raises(KilnError, match="schema mismatch writing main.ml.f"):
        tables.write("main.ml.f", pa.table({"id": ["a"], "x": [1.0]}))
    assert tables.write("main.ml.f", pa.table({"id": [4], "y": ["new"]}), evolve=True) == 3
    assert [c["name"] for c in tables.table_info("main.ml.f")["columns"]] == ["id", "x", "y"]
    tables.annotate("main.ml.f", {"primary_keys": ["id"]})
    assert tables.table_info("main.ml.f")["primary_keys"] == ["id"]
    with pytest.raises(NotFound):
        tables.read("main.ml.nope")
    with pytest.raises(NotFound):  # its schema does not exist: nothing is written
        tables.write("main.nope.t", pa.table({"id": [1]}))
    made = tables.meta.create_function(
        "CREATE FUNCTION main.ml.double(x DOUBLE) RETURNS DOUBLE LANGUAGE PYTHON AS $$\n"
        "return x * 2\n$$")
    assert made["full_name"] == "main.ml.double"
    assert tables.function("main.ml.double")["full_name"] == "main.ml.double"
    assert tables.online_root() == ws.local_root()

    # what was written and read is the run's lineage, named by the run's task
    seen = [(e.op, e.version, e.job_run_id, e.task_key)
            for e in ws.lineage(entity="main.ml.f")]
    assert sorted(set(seen)) == sorted({("write", str(v), run, "features") for v in range(4)}
                                       | {("read", "2", run, "features"),
                                          ("read", "0", run, "features")})
    tables.drop("main.ml.f")
    assert tables.table_info("main.ml.f") is None
    assert not os.path.exists(info["location"])  # a managed table's files go with it


def test_the_catalogs_privileges_hold_through_either_client(client: Any, ws: Any) -> None:
    import pyarrow as pa

    from kiln.catalog import Catalog
    from kiln.catalog.data import Tables
    from kiln.identity import Identities
    from kiln.run_context import RunContext

    Identities(ws).add("root@example.com", "USER")
    Identities(ws).set_membership("admins", "root@example.com", True)
    root = ws.as_user("root@example.com")
    Catalog(root).create_catalog("main")  # root's, and nothing of it alice's
    Catalog(root).create_schema("main", "hr")
    Catalog(root).write("main.hr.secret", pa.table({"id": [7]}))
    tables = Tables(client.catalog(RunContext(run_of(client, ws), "t")))
    for call in (lambda: tables.read("main.hr.secret"),
                 lambda: tables.write("main.hr.secret", pa.table({"id": [8]})),
                 lambda: tables.sql("SELECT * FROM main.hr.secret")):
        with pytest.raises(PermissionDenied):
            call()
    assert Catalog(root).read("main.hr.secret")["id"].tolist() == [7]  # nothing written
    for securable, name, privilege in (("catalog", "main", "USE_CATALOG"),
                                       ("schema", "main.hr", "USE_SCHEMA"),
                                       ("table", "main.hr.secret", "SELECT")):
        root.change_grants(securable, name, "alice@example.com", [privilege], [])
    assert tables.read("main.hr.secret")["id"].tolist() == [7]  # reading is what she may
    with pytest.raises(PermissionDenied, match="MODIFY"):
        tables.write("main.hr.secret", pa.table({"id": [8]}))


    # volume paths: READ VOLUME to read, WRITE VOLUME to write (dbutils.fs asks this)
    Catalog(root).create_volume("main", "hr", "raw")
    for write in (False, True):
        with pytest.raises(PermissionDenied):
            client.require_path("/Volumes/main/hr/raw/a.csv", write)
    root.change_grants("volume", "main.hr.raw", "alice@example.com", ["READ_VOLUME"], [])
    client.require_path("/Volumes/main/hr/raw/a.csv", False)
    with pytest.raises(PermissionDenied, match="WRITE"):
        client.require_path("/Volumes/main/hr/raw/a.csv", True)
    client.require_path("/Workspace/Users/alice@example.com/x", True)  # not the catalog's


def test_the_lifecycles_registry_answers_the_same_through_either_client(client: Any,
                                                                         ws: Any) -> None:
    """Reading versions, recording a validation and deploying: the registry's own rules
    (the validation gate, the approval gate, challenger → champion) hold either way."""
    from kiln.models.lifecycle import ValidationResult
    from kiln.models.registry import Registry

    reg = Registry(ws)
    mlflow = reg.client
    mlflow.create_registered_model("main.ml.m")
    for _ in range(2):
        mlflow.create_model_version("main.ml.m", "file:///nowhere")
    models = client.models()
    assert models.resolve("main.ml.m", version="1") == ("main.ml.m", "1")
    assert models.resolve("main.ml.m") == ("main.ml.m", "2")  # the latest
    assert models.by_alias("main.ml.m", "champion") is None
    with pytest.raises(NotFound):
        models.resolve("main.ml.m", alias="champion")
    with pytest.raises(KilnError, match="has not passed validation"):
        models.deploy("main.ml.m", "2", "champion", False, "")

    models.record_validation(ValidationResult("main.ml.m", "2", "passed", "enabled",
                                              {"auc": 0.9}, None, {}, "ok"), ["auc"])
    assert models.by_alias("main.ml.m", "challenger") == "2"
    assert reg.version("main.ml.m", 2).tags["kiln.validation.status"] == "passed"
    ws.put_model_policy(require_approval=["champion"])
    with pytest.raises(KilnError, match="requires an approval"):
        models.deploy("main.ml.m", "2", "champion", False, "")
    ws.put_model_policy(require_approval=[])
    assert models.deploy("main.ml.m", "2", "champion", False, "good") is None
    assert models.resolve("main.ml.m", alias="champion") == ("main.ml.m", "2")
    assert models.by_alias("main.ml.m", "challenger") is None  # it became the champion
    assert reg.version("main.ml.m", 2).tags["kiln.deployed_by"] == "alice@example.com"


def test_only_a_task_of_a_server_started_run_calls_the_server(ws: Any) -> None:
    """The runner gives a server's runs its URL, their run token and their run id; the
    server's own processes (serving) carry its URL too, and a person's DATABRICKS_TOKEN
    may be about, but without a run they use the workspace itself."""
    from kiln.settings import Settings
    from kiln.workspace.task_client import task_client

    base = {"KILN_SERVER_URL": "http://127.0.0.1:1", "DATABRICKS_TOKEN": "dkea-x",
            "KILN_WORKSPACE_DIR": ws.local_root(), "KILN_USER": "alice@example.com"}
    assert isinstance(task_client(Settings.from_env({**base, "KILN_JOB_RUN_ID": "7"})),
                      ServerClient)
    assert isinstance(task_client(Settings.from_env(base)), EmbeddedClient)
    no_token = {k: v for k, v in base.items() if k != "DATABRICKS_TOKEN"}
    assert isinstance(task_client(Settings.from_env({**no_token, "KILN_JOB_RUN_ID": "7"})),
                      EmbeddedClient)
