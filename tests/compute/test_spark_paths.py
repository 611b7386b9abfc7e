"""Workspace paths in Spark plans and SQL, and SQL cells split into statements. Pure."""

from __future__ import annotations

from kiln.compute.spark import local_path, map_sql
from kiln.jobs.runtime.task import _statements
from kiln.jobs.environments import _pip_error

WS = "/home/k/workspaces/dev"


def test_workspace_paths_map_into_the_workspace() -> None:
    assert local_path(WS, "/Volumes/c/s/v/x.csv") == WS + "/volumes/c/s/v/x.csv"
    assert local_path(WS, "dbfs:/Volumes/c/s/v/x") == WS + "/volumes/c/s/v/x"
    assert local_path(WS, "dbfs:/tmp/x") == WS + "/fs/tmp/x"
    assert local_path(WS, "/dbfs/tmp/x") == WS + "/fs/tmp/x"
    assert local_path(WS, "/Workspace/Shared/d") == WS + "/fs/Workspace/Shared/d"
    for other in ("/tmp/x", "s3://b/k", "relative/p", "file:/tmp/x"):
        assert local_path(WS, other) == other


def test_quoted_paths_in_sql_are_mapped_and_nothing_else() -> None:
    sql = ("SELECT * FROM delta.`/Volumes/c/s/v/t` WHERE note = 'see /Volumes/x' "
           "UNION SELECT * FROM parquet.`dbfs:/tmp/p`")
    assert map_sql(WS, sql) == (
        f"SELECT * FROM delta.`{WS}/volumes/c/s/v/t` WHERE note = 'see /Volumes/x' "
        f"UNION SELECT * FROM parquet.`{WS}/fs/tmp/p`")
    assert map_sql(WS, "CREATE TABLE t LOCATION '/Volumes/c/s/v/t'") == \
        f"CREATE TABLE t LOCATION '{WS}/volumes/c/s/v/t'"


def test_sql_cells_split_at_semicolons_outside_quotes_and_comments() -> None:
    assert _statements("SELECT 1;\n-- a comment; still a comment\nSELECT ';' AS s ;  ") == \
        ["SELECT 1", "SELECT ';' AS s"]
    assert _statements("  ") == []


def test_pip_errors_keep_pip_s_words() -> None:
    out = ("Looking in indexes: x\nWARNING: Location 'file:///a' is ignored\n"
           "Collecting nope\nERROR: Could not find a version that satisfies the requirement "
           "nope (from versions: none)\nERROR: No matching distribution found for nope\n")
    text = _pip_error(out)
    assert "WARNING: Location" not in text
    assert "No matching distribution found for nope" in text
