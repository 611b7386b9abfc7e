"""The workspace catalog as the Spark engine's Glue catalog, on a real embedded workspace
(the engine itself is exercised end to end in tests/e2e/test_spark.py)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from kiln.catalog import Catalog
from kiln.catalog.types import sql_type
from kiln.compute.glue import GlueCatalog, serve
from kiln.compute.process import catalog_list
from kiln.workspace.local import WorkspaceHome


@pytest.fixture
def glue(tmp_path: Path) -> GlueCatalog:
    ws = WorkspaceHome(str(tmp_path)).open("dev", "a@b.c")
    ws.create("catalogs", "dev", {"name": "dev"})
    return GlueCatalog(Catalog(ws))


def call(glue: GlueCatalog, op: str, **body: object) -> dict:
    return glue.call(op, {"CatalogId": "dev", **body})


def test_schemas_created_by_spark_are_kiln_schemas(glue: GlueCatalog) -> None:
    call(glue, "CreateDatabase", DatabaseInput={"Name": "Feat", "Description": "features"})
    db = call(glue, "GetDatabase", Name="feat")["Database"]
    assert db["LocationUri"].endswith("/catalog/dev/feat")
    assert glue.catalog.schema("dev", "feat") == {"name": "feat", "catalog_name": "dev",
                                                  "comment": "features"}
    assert [d["Name"] for d in call(glue, "GetDatabases")["DatabaseList"]] == ["feat"]
    with pytest.raises(Exception, match="already exists"):
        call(glue, "CreateDatabase", DatabaseInput={"Name": "feat"})


def test_a_schema_in_a_catalog_that_does_not_exist_is_refused(glue: GlueCatalog) -> None:
    with pytest.raises(Exception, match="catalog nope does not exist"):
        glue.call("CreateDatabase", {"CatalogId": "nope", "DatabaseInput": {"Name": "s"}})


def test_tables_round_trip_between_kiln_and_the_engine(glue: GlueCatalog) -> None:
    cat = glue.catalog
    cat.create_schema("dev", "s")
    cat.write("dev.s.by_kiln", pd.DataFrame({"id": [1, 2], "name": ["a", "b"]}))
    table = call(glue, "GetTable", DatabaseName="s", Name="by_kiln")["Table"]
    assert table["Parameters"] == {"spark.sql.sources.provider": "delta"}
    assert table["TableType"] == "MANAGED_TABLE"
    assert table["StorageDescriptor"]["Columns"] == [{"Name": "id", "Type": "bigint"},
                                                     {"Name": "name", "Type": "string"}]
    # a table the engine creates where the schema keeps managed tables is managed
    where = cat.schema_root("dev", "s") + "/by_spark"
    pd.DataFrame({"x": [1]}).pipe(lambda f: cat.write("dev.s.tmp", f, location=where))
    cat.ws.delete("tables", "dev.s.tmp")  # leave the Delta files, forget the name
    call(glue, "CreateTable", DatabaseName="s", TableInput={
        "Name": "by_spark", "Parameters": {"spark.sql.sources.provider": "delta"},
        "StorageDescriptor": {"Location": "file://" + where,
                              "Columns": [{"Name": "x", "Type": "bigint"}]}})
    assert cat.table_info("dev.s.by_spark")["table_type"] == "MANAGED"
    assert sorted(t["Name"] for t in call(glue, "GetTables", DatabaseName="s")["TableList"]) \
        == ["by_kiln", "by_spark"]
    assert cat.read("dev.s.by_spark").x.tolist() == [1]
    call(glue, "DeleteTable", DatabaseName="s", Name="by_spark")
    assert cat.table_info("dev.s.by_spark") is None
    with pytest.raises(Exception, match="does not exist"):
        call(glue, "GetTable", DatabaseName="s", Name="by_spark")


def test_non_delta_tables_are_refused_with_the_reason(glue: GlueCatalog) -> None:
    glue.catalog.create_schema("dev", "s")
    with pytest.raises(Exception, match="kiln's catalog holds Delta tables.*got parquet"):
        call(glue, "CreateTable", DatabaseName="s", TableInput={
            "Name": "p", "Parameters": {"spark.sql.sources.provider": "parquet"},
            "StorageDescriptor": {"Location": "/tmp/p"}})


def test_the_http_endpoint_speaks_glue_json(glue: GlueCatalog) -> None:
    server = serve(glue)
    try:
        def post(op: str, body: dict) -> tuple[int, dict]:
            req = urllib.request.Request(
                f"http://127.0.0.1:{server.server_address[1]}/", method="POST",
                data=json.dumps({"CatalogId": "dev", **body}).encode(),
                headers={"X-Amz-Target": f"AWSGlue.{op}",
                         "Content-Type": "application/x-amz-json-1.1"})
            try:
                with urllib.request.urlopen(req) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        assert post("CreateDatabase", {"DatabaseInput": {"Name": "s"}}) == (200, {})
        status, err = post("GetTable", {"DatabaseName": "s", "Name": "nope"})
        assert status == 400 and err["__type"] == "EntityNotFoundException"
        status, err = post("BatchDeleteTable", {})
        assert status == 400 and "does not serve Glue BatchDeleteTable" in err["Message"]
    finally:
        server.shutdown()


def test_engine_catalogs_and_types() -> None:
    assert catalog_list([], "http://x") .startswith('[{type="memory"')
    assert catalog_list(["dev", "main"], "http://127.0.0.1:9") == (
        '[{type="glue", name="dev", catalog_id="dev", region="us-east-1", '
        'endpoint_url="http://127.0.0.1:9"}, {type="glue", name="main", catalog_id="main", '
        'region="us-east-1", endpoint_url="http://127.0.0.1:9"}]')
    assert sql_type("timestamp[us, tz=UTC]") == "timestamp"
    assert sql_type("decimal128(10, 2)") == "decimal(10, 2)"
    assert sql_type("list<item: int64>") is None
