"""A Spark engine's own Unity Catalog connector uses ``kiln server`` as its catalog: Sail,
configured with ``type="unity"`` and a user's token, lists schemas, reads tables and
creates, fills and drops external tables through kiln's Unity Catalog REST, and the
user's privileges decide what it may do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.helpers import Kiln
from tests.e2e.test_server_access import grant_select
from tests.e2e.test_server_target import kiln_server, token_of

pytestmark = pytest.mark.e2e

# a Spark Connect server of Sail's whose only catalog is kiln server's Unity Catalog
SPARK_ON_UC = """
import json, os, sys
url, token, statements = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
os.environ["UNITY_ALLOW_HTTP_URL"] = "true"
os.environ["SAIL_CATALOG__LIST"] = (
    f'[{{type="unity", name="main", uri="{url}/api/2.1/unity-catalog", '
    f'default_catalog="main", token="{token}"}}]')
os.environ["SAIL_CATALOG__DEFAULT_CATALOG"] = "main"
from pysail.spark import SparkConnectServer
server = SparkConnectServer("127.0.0.1", 0)
server.start(background=True)
from pyspark.sql import SparkSession
host, port = server.listening_address
spark = SparkSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
out = []
for q in statements:
    try:
        out.append([list(r) for r in spark.sql(q).collect()])
    except Exception as e:
        out.append("ERROR " + str(e).split("\\n")[0])
print(json.dumps(out, default=str))
"""


def spark_sql(url: str, token: str, *statements: str) -> list[object]:
    proc = subprocess.run([sys.executable, "-c", SPARK_ON_UC, url, token, json.dumps(statements)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RUST_LOG": "error"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sails_unity_catalog_connector_reads_and_writes_through_kiln_server(
        tmp_path: Path) -> None:
    import pyarrow as pa
    from databricks.sdk import WorkspaceClient
    from deltalake import write_deltalake

    admin = Kiln(tmp_path / "server-home", user="admin@example.com")
    with kiln_server(admin, tmp_path) as url:
        tokens = {u: token_of(admin, tmp_path, f"{u}@example.com") for u in ("admin", "alice")}
        admin.run("groups", "add-member", "admins", "admin@example.com", "-w", "shared",
                  cwd=tmp_path)
        w = WorkspaceClient(host=url, token=tokens["admin"], auth_type="pat")
        w.catalogs.create(name="main")
        w.schemas.create(name="hr", catalog_name="main")
        write_deltalake(str(tmp_path / "salaries"),
                        pa.table({"id": [1, 2, 3], "pay": [10.5, 20.0, 30.25]}))
        admin.run("tables", "create", "main.hr.salaries", "--location",
                  str(tmp_path / "salaries"), "-w", "shared", cwd=tmp_path)
        ext = tmp_path / "bonus"

        got = spark_sql(url, tokens["admin"],
                        "SHOW TABLES IN main.hr",
                        "SELECT id, pay FROM main.hr.salaries ORDER BY id",
                        f"CREATE TABLE main.hr.bonus (id BIGINT, amount DOUBLE) USING delta "
                        f"LOCATION '{ext}'",
                        "INSERT INTO main.hr.bonus VALUES (1, 2.5), (3, 4.0)",
                        "SELECT s.id, s.pay + b.amount FROM main.hr.salaries s "
                        "JOIN main.hr.bonus b ON s.id = b.id ORDER BY s.id",
                        "CREATE TABLE main.hr.managed USING delta AS SELECT 1 AS a")
        assert got[0] == [["main.hr", "salaries", False]]
        assert got[1] == [[1, 10.5], [2, 20.0], [3, 30.25]]
        assert got[3] == [[2]]
        assert got[4] == [[1, 13.0], [3, 34.25]]
        # catalog-coordinated managed tables are refused before anything is made
        assert str(got[5]).startswith("ERROR") and "400" in str(got[5])
        assert {t.name for t in w.tables.list(catalog_name="main", schema_name="hr")} == \
            {"salaries", "bonus"}
        # the table is kiln's like any other: its columns, and kiln sql reads it
        bonus = w.tables.get("main.hr.bonus")
        assert [(c.name, c.type_text, c.type_name.value) for c in bonus.columns] == \
            [("id", "bigint", "LONG"), ("amount", "double", "DOUBLE")]
        rows = json.loads(admin.run("sql", "SELECT sum(amount) AS s FROM main.hr.bonus",
                                    "-w", "shared", "-o", "json", cwd=tmp_path).stdout)
        assert rows == [{"s": 6.5}]

        # alice's token: her privileges decide
        denied = spark_sql(url, tokens["alice"], "SELECT count(*) FROM main.hr.salaries")
        assert str(denied[0]).startswith("ERROR") and "403" in str(denied[0]), denied
        grant_select(w, "alice@example.com", "main.hr.salaries")
        got = spark_sql(url, tokens["alice"], "SELECT count(*) FROM main.hr.salaries",
                        f"CREATE TABLE main.hr.mine (x BIGINT) USING delta "
                        f"LOCATION '{tmp_path / 'mine'}'")
        assert got[0] == [[3]]
        assert str(got[1]).startswith("ERROR") and "403" in str(got[1])  # no CREATE TABLE
        assert not (tmp_path / "mine").exists()
        # the admin drops the external table: the catalog forgets it, its data stays
        assert spark_sql(url, tokens["admin"], "DROP TABLE main.hr.bonus")[0] == [[True]]
        assert {t.name for t in w.tables.list(catalog_name="main", schema_name="hr")} == \
            {"salaries"}
        assert (ext / "_delta_log").is_dir()
