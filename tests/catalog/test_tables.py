"""Catalog names, Delta tables (writes, merges, schema enforcement, history, time travel),
and SQL over them, on a real embedded workspace."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from kiln.catalog import Catalog, parse_name
from kiln.errors import KilnError
from kiln.workspace.local import WorkspaceHome


@pytest.fixture
def cat(tmp_path: Path) -> Catalog:
    ws = WorkspaceHome(str(tmp_path)).open("dev", "a@b.c")
    ws.create("schemas", "ml", {"name": "ml", "catalog_name": "main"})
    return Catalog(ws)


@pytest.mark.parametrize("text,message", [
    ("main.ml", "expected catalog.schema.name"),
    ("main.ml.t.x", "expected catalog.schema.name"),
    ("main.ml.t; DROP TABLE x", "must start with a letter"),
    ("main.../etc.t", "expected catalog.schema.name"),
    ("main.m-l.t", "must start with a letter or '_' and contain only"),
    ("", "expected catalog.schema.name"),
])
def test_bad_names(text: str, message: str) -> None:
    with pytest.raises(KilnError, match=message):
        parse_name(text)


def test_names_are_case_insensitive_and_backquotes_allowed() -> None:
    assert str(parse_name("Main.`ML`.Churn")) == "main.ml.churn"


def test_write_read_merge_history_time_travel(cat: Catalog, tmp_path: Path) -> None:
    assert cat.write("main.ml.t", pd.DataFrame({"id": [1, 2], "x": [0.1, 0.2]})) == 0
    assert (tmp_path / "workspaces/dev/catalog/main/ml/t/_delta_log").is_dir()
    assert cat.write("main.ml.t", [{"id": 3, "x": 0.3}]) == 1
    assert cat.write("main.ml.t", pd.DataFrame({"id": [3, 4], "x": [9.0, 0.4]}),
                     mode="merge", keys=["id"]) == 2
    assert cat.read("main.ml.t").sort_values("id").to_dict("records") == [
        {"id": 1, "x": 0.1}, {"id": 2, "x": 0.2}, {"id": 3, "x": 9.0}, {"id": 4, "x": 0.4}]
    assert len(cat.read("main.ml.t", version=0)) == 2
    assert [h["operation"] for h in cat.history("main.ml.t")] == ["MERGE", "WRITE", "WRITE"]
    assert cat.write("main.ml.t", pd.DataFrame({"id": [9], "x": [1.0]}), mode="overwrite") == 3
    assert cat.read("main.ml.t", as_arrow=True).to_pylist() == [{"id": 9, "x": 1.0}]
    assert cat.list_tables("main.ml") == ["main.ml.t"]
    # integer widths widen; nothing else converts
    cat.write("main.ml.t", pa.table({"x": [2.0], "id": pa.array([10], pa.int32())}))


@pytest.mark.parametrize("data,message", [
    (pd.DataFrame({"id": ["1"], "x": [1.0]}), "id is (large_)?string, the table has int64"),
    (pd.DataFrame({"id": [1]}), "missing columns x"),
    (pd.DataFrame({"id": [1], "x": [1.0], "y": [1]}), "columns not in the table: y"),
])
def test_schema_mismatch_changes_nothing(cat: Catalog, data, message: str) -> None:
    cat.write("main.ml.t", pd.DataFrame({"id": [1], "x": [0.5]}))
    with pytest.raises(KilnError, match=f"schema mismatch writing main.ml.t: {message}"):
        cat.write("main.ml.t", data)
    assert len(cat.history("main.ml.t")) == 1


def test_refusals(cat: Catalog) -> None:
    with pytest.raises(KilnError, match="schema other.s does not exist in workspace dev"):
        cat.write("other.s.t", pd.DataFrame({"a": [1]}))
    with pytest.raises(KilnError, match="merge needs an existing table"):
        cat.write("main.ml.new", pd.DataFrame({"a": [1]}), mode="merge", keys=["a"])
    cat.write("main.ml.t", pd.DataFrame({"id": [1]}))
    with pytest.raises(KilnError, match="merge needs keys"):
        cat.write("main.ml.t", pd.DataFrame({"id": [1]}), mode="merge")
    with pytest.raises(KilnError, match="write mode must be one of"):
        cat.write("main.ml.t", pd.DataFrame({"id": [1]}), mode="upsert")
    with pytest.raises(KilnError, match="has no version 5"):
        cat.read("main.ml.t", version=5)
    with pytest.raises(KilnError, match="table main.ml.nope does not exist"):
        cat.read("main.ml.nope")


def test_sql_over_three_part_names(cat: Catalog) -> None:
    cat.write("main.ml.customers", pd.DataFrame({"id": [1, 2, 3], "region": ["eu", "us", "eu"]}))
    cat.write("main.ml.orders", pd.DataFrame({"customer": [1, 1, 3], "amount": [10, 5, 7]}))
    result = cat.sql("""
        SELECT c.region, sum(o.amount) AS total, 'main.ml.not_a_table' AS note
        FROM main.ml.customers c JOIN main.ml.orders o ON o.customer = c.id
        GROUP BY c.region ORDER BY c.region""")
    assert result.to_pylist() == [{"region": "eu", "total": 22, "note": "main.ml.not_a_table"}]
    with pytest.raises(KilnError, match="table main.ml.missing does not exist"):
        cat.sql("SELECT * FROM main.ml.missing")
    with pytest.raises(KilnError, match="SQL error: Parser Error"):
        cat.sql("SELEC 1")


def test_sql_reads_past_versions_by_version_and_time(cat: Catalog) -> None:
    import time

    cat.write("main.ml.h", pd.DataFrame({"x": [1]}))
    time.sleep(0.05)
    between = pd.Timestamp.now(tz="UTC").isoformat()
    time.sleep(0.05)
    cat.write("main.ml.h", pd.DataFrame({"x": [2, 3]}))
    def n(q: str) -> int:
        return cat.sql(q).to_pylist()[0]["n"]
    assert n("SELECT count(*) AS n FROM main.ml.h") == 3
    assert n("SELECT count(*) AS n FROM main.ml.h VERSION AS OF 0") == 1
    assert n(f"SELECT count(*) AS n FROM main.ml.h TIMESTAMP AS OF '{between}'") == 1
    assert n("SELECT count(*) AS n FROM main.ml.h version as of 1 AS t WHERE t.x > 1") == 2
    with pytest.raises(KilnError, match="has no version as of 7 \\(latest: 1\\)"):
        cat.sql("SELECT * FROM main.ml.h VERSION AS OF 7")
