"""Identities and privileges on a shared kiln server, through the official SDK: users with
different grants see different catalogs, schemas, tables, volumes and models; a missing
privilege is a 403 on every kind of resource; paths cannot climb out of their tree."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import Kiln
from tests.e2e.test_server_api import MLFLOW_CLIENT
from tests.e2e.test_server_target import kiln_server, token_of

pytestmark = pytest.mark.e2e


MLFLOW_AS = """
import json, sys
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
out = {}
def attempt(key, call):
    try:
        call()
        out[key] = "ok"
    except MlflowException as e:
        out[key] = e.error_code
attempt("get", lambda: client.get_registered_model("main.ml.remote"))
attempt("alias", lambda: client.set_registered_model_alias("main.ml.remote", "x", "1"))
attempt("create_in_sales", lambda: client.create_registered_model("main.sales.mine"))
def create_and_read():  # the creator owns what she made the moment the answer arrives
    for i in range(10):
        client.get_registered_model(client.create_registered_model(f"main.sales.mine{i}").name)
if out["create_in_sales"] == "ok":
    attempt("read_own", create_and_read)
out["search"] = sorted(m.name for m in client.search_registered_models())
print(json.dumps(out))
"""


def mlflow_as(url: str, token: str) -> dict[str, object]:
    """What the MLflow client may do as the token's user (each call: ok or its error)."""
    import os

    proc = subprocess.run([sys.executable, "-c", MLFLOW_AS, url], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "MLFLOW_TRACKING_TOKEN": token})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_grants_decide_what_each_user_sees_and_may_do(tmp_path: Path) -> None:
    import pyarrow as pa
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound, PermissionDenied
    from databricks.sdk.service.catalog import PermissionsChange, Privilege, VolumeType
    from databricks.sdk.service.iam import User
    from databricks.sdk.service.serving import (
        EndpointCoreConfigInput,
        ServedEntityInput,
        ServingEndpointAccessControlRequest,
        ServingEndpointPermissionLevel,
    )
    from deltalake import write_deltalake

    admin = Kiln(tmp_path / "server-home", user="admin@example.com")
    with kiln_server(admin, tmp_path) as url:
        tokens = {u: token_of(admin, tmp_path, f"{u}@example.com")
                  for u in ("admin", "alice", "bob", "carol")}

        def client(user: str) -> WorkspaceClient:
            return WorkspaceClient(host=url, token=tokens[user], auth_type="pat")

        w, alice, bob, carol = (client(u) for u in ("admin", "alice", "bob", "carol"))
        # before there is an admin nothing is enforced; then the admin group is the admin's
        admin.run("groups", "add-member", "admins", "admin@example.com", "-w", "shared",
                  cwd=tmp_path)
        with pytest.raises(PermissionDenied):  # only admins manage identities now
            alice.users.create(user_name="mallory@example.com")
        w.users.create(user_name="dave@example.com")
        assert "dave@example.com" in {u.user_name for u in w.users.list()}

        w.catalogs.create(name="main")
        for schema in ("sales", "hr", "ml"):
            w.schemas.create(name=schema, catalog_name="main")
        for full, rows in (("main.sales.orders", 3), ("main.hr.salaries", 2)):
            where = tmp_path / "data" / full
            write_deltalake(str(where), pa.table({"id": list(range(rows))}))
            admin.run("tables", "create", full, "--location", str(where), "-w", "shared",
                      cwd=tmp_path)
        w.volumes.create(catalog_name="main", schema_name="sales", name="raw",
                         volume_type=VolumeType.MANAGED)
        w.files.upload("/Volumes/main/sales/raw/a.csv", io.BytesIO(b"id\n1\n"))
        proc = subprocess.run([sys.executable, "-c", MLFLOW_CLIENT, url], text=True,
                              capture_output=True, timeout=300,
                              env={**admin.env(), "MLFLOW_TRACKING_TOKEN": tokens["admin"]})
        assert proc.returncode == 0, proc.stderr  # main.ml.remote v1 @champion

        def change(securable: str, name: str, who: str, *privileges: Privilege) -> None:
            w.grants.update(securable, name, changes=[PermissionsChange(
                principal=who, add=list(privileges))])

        change("catalog", "main", "alice@example.com", Privilege.USE_CATALOG)
        change("schema", "main.sales", "alice@example.com", Privilege.USE_SCHEMA,
               Privilege.SELECT)
        change("catalog", "main", "bob@example.com", Privilege.USE_CATALOG)
        change("schema", "main.hr", "bob@example.com", Privilege.USE_SCHEMA, Privilege.SELECT)

        # two users, two views of the same catalog; carol has no grants and sees none
        assert [c.name for c in alice.catalogs.list()] == ["main"]
        assert [c.name for c in carol.catalogs.list()] == []
        assert [s.name for s in alice.schemas.list(catalog_name="main")] == ["sales"]
        assert [s.name for s in bob.schemas.list(catalog_name="main")] == ["hr"]
        assert [t.full_name for t in alice.tables.list("main", "sales")] == ["main.sales.orders"]
        assert [t.full_name for t in bob.tables.list("main", "hr")] == ["main.hr.salaries"]
        assert [m.full_name for m in alice.registered_models.list()] == []
        assert {m.full_name for m in w.registered_models.list()} == {"main.ml.remote"}

        # a missing privilege is a 403, resource type by resource type
        denied = [
            lambda: carol.catalogs.get("main"),                              # catalog
            lambda: alice.schemas.create(name="mine", catalog_name="main"),  # CREATE_SCHEMA
            lambda: alice.schemas.get("main.hr"),                            # schema
            lambda: list(alice.tables.list("main", "hr")),                   # USE_SCHEMA
            lambda: alice.tables.get("main.hr.salaries"),                    # table
            lambda: bob.tables.get("main.sales.orders"),
            lambda: alice.volumes.read("main.sales.raw"),                    # volume
            lambda: alice.files.download("/Volumes/main/sales/raw/a.csv"),   # volume files
            lambda: alice.registered_models.get("main.ml.remote"),           # model
            lambda: alice.model_versions.get_by_alias("main.ml.remote", "champion"),
            lambda: alice.grants.update("schema", "main.sales", changes=[    # grants
                PermissionsChange(principal="alice@example.com", add=[Privilege.MODIFY])]),
            lambda: alice.catalogs.create(name="other"),                     # admins only
        ]
        for i, call in enumerate(denied):
            with pytest.raises(PermissionDenied):
                call()
                pytest.fail(f"call {i} was not denied")

        # granting opens exactly what was granted
        change("volume", "main.sales.raw", "alice@example.com", Privilege.READ_VOLUME)
        assert alice.files.download("/Volumes/main/sales/raw/a.csv").contents.read() == \
            b"id\n1\n"
        with pytest.raises(PermissionDenied):
            alice.files.upload("/Volumes/main/sales/raw/b.csv", io.BytesIO(b"no"), overwrite=True)
        with pytest.raises(NotFound):  # grants name principals that exist
            change("catalog", "main", "analysts", Privilege.USE_CATALOG)
        w.groups.create(display_name="analysts")
        change("catalog", "main", "analysts", Privilege.USE_CATALOG)
        change("schema", "main.ml", "analysts", Privilege.USE_SCHEMA, Privilege.EXECUTE)
        with pytest.raises(PermissionDenied):
            alice.registered_models.get("main.ml.remote")
        # the MLflow client's door to the same registry asks the same privileges
        assert mlflow_as(url, tokens["alice"]) == {
            "get": "PERMISSION_DENIED", "search": [], "alias": "PERMISSION_DENIED",
            "create_in_sales": "PERMISSION_DENIED"}
        change("schema", "main.sales", "alice@example.com", Privilege.CREATE_MODEL)
        made = mlflow_as(url, tokens["alice"])  # now she owns what she makes
        assert (made["create_in_sales"], made["read_own"]) == ("ok", "ok"), made
        assert mlflow_as(url, tokens["bob"])["search"] == []  # bob sees neither
        group = next(g for g in w.groups.list() if g.display_name == "analysts")
        from databricks.sdk.service.iam import Patch, PatchOp

        w.groups.patch(group.id, operations=[Patch(op=PatchOp.ADD, path="members",
                                                   value=[{"value": "alice@example.com"}])])
        assert alice.registered_models.get("main.ml.remote").full_name == "main.ml.remote"
        assert alice.model_versions.get_by_alias("main.ml.remote", "champion").version == 1
        with pytest.raises(PermissionDenied):  # moving an alias needs MANAGE
            alice.registered_models.set_alias("main.ml.remote", "challenger", 1)
        seen = mlflow_as(url, tokens["alice"])
        assert seen["get"] == "ok" and seen["alias"] == "PERMISSION_DENIED"
        assert seen["search"] == ["main.ml.remote", "main.sales.mine"] + [
            f"main.sales.mine{i}" for i in range(10)]
        # MLflow's door moves aliases as kiln's registry does: behind the approval gate
        admin.run("models", "policy", "-w", "shared", "--require-approval", "x", cwd=tmp_path)
        assert mlflow_as(url, tokens["admin"])["alias"] == "INVALID_PARAMETER_VALUE"
        with pytest.raises(NotFound):
            w.model_versions.get_by_alias("main.ml.remote", "x")
        admin.run("models", "policy", "-w", "shared", "--clear", cwd=tmp_path)
        assert mlflow_as(url, tokens["admin"])["alias"] == "ok"
        assert w.model_versions.get_by_alias("main.ml.remote", "x").version == 1
        effective = w.grants.get_effective("table", "main.sales.orders",
                                           principal="alice@example.com")
        assert {(p.privilege.value, p.inherited_from_name)
                for a in effective.privilege_assignments for p in a.privileges} == {
            ("USE_CATALOG", "main"), ("USE_SCHEMA", "main.sales"), ("SELECT", "main.sales"),
            ("CREATE_MODEL", "main.sales")}

        # endpoints: CAN_QUERY decides who may query
        w.serving_endpoints.create(name="remote", config=EndpointCoreConfigInput(name="remote",
            served_entities=[ServedEntityInput(entity_name="main.ml.remote",
                                               entity_version="1", workload_size="Small",
                                               scale_to_zero_enabled=False)]))
        w.serving_endpoints.set_permissions("remote", access_control_list=[
            ServingEndpointAccessControlRequest(
                user_name="bob@example.com",
                permission_level=ServingEndpointPermissionLevel.CAN_QUERY)])
        assert [e.name for e in bob.serving_endpoints.list()] == ["remote"]
        assert [e.name for e in alice.serving_endpoints.list()] == []
        with pytest.raises(NotFound):
            alice.serving_endpoints.get("remote")
        with pytest.raises(PermissionDenied):
            bob.serving_endpoints.update_config("remote", served_entities=[ServedEntityInput(
                entity_name="main.ml.remote", entity_version="1", workload_size="Small",
                scale_to_zero_enabled=False)])
        w.serving_endpoints.delete("remote")

        # identities through SCIM: the admin sees everyone, a user sees himself
        assert alice.current_user.me().groups[0].display == "analysts"
        assert isinstance(w.users.get("dave@example.com"), User)

        # paths cannot climb out of their tree (sent as they are: clients would tidy them)
        def raw(method: str, path: str, body: bytes, kind: str) -> tuple[int, str]:
            con = http.client.HTTPConnection(url.split("//", 1)[1], timeout=30)
            con.request(method, path, body=body, headers={
                "Authorization": f"Bearer {tokens['admin']}", "Content-Type": kind})
            resp = con.getresponse()
            return resp.status, resp.read().decode()

        octets = "application/octet-stream"
        for path in ("/Volumes/main/sales/raw/../../hr/x", "/Volumes/main/sales/raw/%2e%2e/x",
                     "/Volumes/main/sales/raw/./x"):
            status, text = raw("PUT", f"/api/2.0/fs/files{path}", b"x", octets)
            assert status == 400 and "'..'" in text, (path, text)
        for path in ("/Workspace/Users/x/../../../etc/passwd", "/Volumes/main/sales/raw/../x"):
            status, text = raw("POST", "/api/2.0/workspace/import", json.dumps(
                {"path": path, "content": "eA==", "format": "AUTO"}).encode(), "application/json")
            assert status == 400, (path, text)
            status, text = raw("POST", "/api/2.0/kiln/files/write", json.dumps(
                {"path": path, "content": "eA=="}).encode(), "application/json")
            assert status == 400, (path, text)
        assert not (tmp_path / "server-home" / "etc").exists()


SPARK_READ = """# Databricks notebook source
n = spark.table("main.hr.salaries").count()
dbutils.notebook.exit(str(n))
"""

# a feature table from a table, as Databricks notebooks write it: the data is written by
# the task, the table registered, checked and put in the lineage by the server
FEATURES = """# Databricks notebook source
from databricks.feature_engineering import FeatureEngineeringClient
fe = FeatureEngineeringClient()
df = spark.table("main.hr.salaries").selectExpr("id", "id * 2 AS doubled")
fe.create_table(name="main.hr.doubled", primary_keys=["id"], df=df)
dbutils.notebook.exit(str(fe.read_table(name="main.hr.doubled").count()))
"""

# task code's MLflow, as Databricks notebooks write it: the server checks its privileges
MLFLOW_REGISTER = """# Databricks notebook source
import mlflow
from mlflow import MlflowClient
mlflow.set_registry_uri("databricks-uc")
client = MlflowClient()
client.create_registered_model("main.hr.by_task")
dbutils.notebook.exit(client.get_registered_model("main.hr.by_task").name)
"""


def grant_select(w: Any, user: str, table: str) -> None:
    """What reading ``table`` takes: USE CATALOG, USE SCHEMA and SELECT."""
    from databricks.sdk.service.catalog import PermissionsChange, Privilege

    catalog, schema, _ = table.split(".")
    for securable, name, privileges in (
            ("catalog", catalog, [Privilege.USE_CATALOG]),
            ("schema", f"{catalog}.{schema}", [Privilege.USE_SCHEMA]),
            ("table", table, [Privilege.SELECT])):
        w.grants.update(securable, name, changes=[PermissionsChange(principal=user,
                                                                    add=privileges)])


def test_grants_hold_for_spark_in_the_tasks_of_a_job(tmp_path: Path) -> None:
    import base64

    import pyarrow as pa
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service import jobs
    from databricks.sdk.service.catalog import PermissionsChange, Privilege
    from databricks.sdk.service.workspace import ImportFormat, Language
    from deltalake import write_deltalake

    admin = Kiln(tmp_path / "server-home", user="admin@example.com")
    with kiln_server(admin, tmp_path) as url:
        tokens = {u: token_of(admin, tmp_path, f"{u}@example.com") for u in ("admin", "alice")}
        admin.run("groups", "add-member", "admins", "admin@example.com", "-w", "shared",
                  cwd=tmp_path)
        w, alice = (WorkspaceClient(host=url, token=tokens[u], auth_type="pat")
                    for u in ("admin", "alice"))
        w.catalogs.create(name="main")
        w.schemas.create(name="hr", catalog_name="main")
        where = tmp_path / "salaries"
        write_deltalake(str(where), pa.table({"id": [1, 2, 3]}))
        admin.run("tables", "create", "main.hr.salaries", "--location", str(where), "-w",
                  "shared", cwd=tmp_path)

        alice.workspace.mkdirs("/Workspace/Users/alice@example.com")

        def notebook_job(name: str, source: str) -> Any:
            """A job of alice's: one task, the notebook ``source`` in her home folder."""
            path = f"/Workspace/Users/alice@example.com/{name}"
            alice.workspace.import_(path=path, format=ImportFormat.SOURCE,
                                    language=Language.PYTHON,
                                    content=base64.b64encode(source.encode()).decode())
            return alice.jobs.create(name=name, tasks=[jobs.Task(
                task_key=name, notebook_task=jobs.NotebookTask(notebook_path=path))])

        def run() -> tuple[jobs.RunResultState, str]:
            done = alice.jobs.run_now(job.job_id).result()
            out = alice.jobs.get_run_output(done.tasks[0].run_id)
            return done.state.result_state, (out.notebook_output.result if out.notebook_output
                                              and out.notebook_output.result else out.error or "")

        job = notebook_job("read", SPARK_READ)
        state, said = run()  # the task runs as alice: Spark cannot read what she may not
        assert state == jobs.RunResultState.FAILED
        assert "does not have USE CATALOG on Catalog 'main'" in said, said
        grant_select(w, "alice@example.com", "main.hr.salaries")
        assert run() == (jobs.RunResultState.SUCCESS, "3")

        # her feature table: CREATE TABLE on the schema first, as on Databricks
        job = notebook_job("features", FEATURES)
        state, said = run()
        assert state == jobs.RunResultState.FAILED
        assert "does not have CREATE TABLE on Schema 'main.hr'" in said, said
        assert [t.full_name for t in w.tables.list("main", "hr")] == ["main.hr.salaries"]
        w.grants.update("schema", "main.hr", changes=[PermissionsChange(
            principal="alice@example.com", add=[Privilege.CREATE_TABLE])])
        assert run() == (jobs.RunResultState.SUCCESS, "3")
        doubled = w.tables.get("main.hr.doubled")
        assert doubled.table_type.value == "MANAGED"
        assert [c.name for c in doubled.columns] == ["id", "doubled"]
        last = max(r.run_id for r in alice.jobs.list_runs(job_id=job.job_id))
        seen = json.loads(admin.run("lineage", "main.hr.salaries", "-w", "shared", "-o", "json",
                                    cwd=tmp_path).stdout)
        assert any(e["target"] == "table main.hr.doubled@0" and
                   e["via"].startswith(f"job run {last} task features")
                   for e in seen["downstream"]), seen

        # the run's MLflow calls reach the server as alice: the registry's privileges hold
        job = notebook_job("register", MLFLOW_REGISTER)
        state, said = run()
        assert state == jobs.RunResultState.FAILED
        assert "does not have CREATE MODEL on Schema 'main.hr'" in said, said
        assert not any(m.name == "main.hr.by_task" for m in w.registered_models.list(
            catalog_name="main", schema_name="hr"))
        w.grants.update("schema", "main.hr", changes=[PermissionsChange(
            principal="alice@example.com", add=[Privilege.CREATE_MODEL])])
        assert run() == (jobs.RunResultState.SUCCESS, "main.hr.by_task")
        # she created it, so she owns it; the run's token is gone with the run
        assert alice.registered_models.get("main.hr.by_task").full_name == "main.hr.by_task"
        left = json.loads(admin.run("tokens", "list", "-w", "shared", cwd=tmp_path).stdout)
        assert not [t for t in left if t["comment"].startswith("job run ")], left
