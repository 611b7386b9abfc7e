"""The embedded (SQLite) workspace: what is its own. What every deploy target does is
in test_deploy_target_contract.py."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kiln.errors import KilnError
from kiln.workspace import AlreadyExists, NotFound
from kiln.workspace.local import WorkspaceHome
from kiln.workspace.local.db import HEAD


@pytest.fixture
def ws(tmp_path: Path):
    w = WorkspaceHome(str(tmp_path)).open("dev", "alice@example.com")
    yield w
    w.close()


def test_new_database_is_migrated_to_head(tmp_path: Path, ws) -> None:
    db = tmp_path / "workspaces" / "dev" / "metadata.db"
    con = sqlite3.connect(db)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
    from kiln.workspace.local.tables import metadata

    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    # the migrations make exactly the tables the code declares
    assert tables - {"alembic_version", "sqlite_sequence"} == set(metadata.tables)


def test_catalog_objects_are_keyed_by_full_name(ws, tmp_path: Path) -> None:
    m = ws.create("registered_models", "churn", {"name": "churn", "catalog_name": "main",
                                                 "schema_name": "ml"})
    assert m.id == "main.ml.churn"
    with pytest.raises(AlreadyExists, match="registered model main.ml.churn already exists"):
        ws.create("registered_models", "churn", {"name": "churn", "catalog_name": "main",
                                                 "schema_name": "ml"})
    ws.create("volumes", "raw", {"name": "raw", "catalog_name": "main", "schema_name": "ml"})
    assert (tmp_path / "workspaces/dev/volumes/main/ml/raw").is_dir()


def test_lock_of_a_dead_process_is_taken_over(ws) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)
    dead = int(proc.stdout)
    with ws.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO deploy_locks VALUES ('/s', 'x', 'ghost', ?, ?, 0)",
                          (__import__("socket").gethostname(), dead))
    assert ws.acquire_lock("/s", "alice").holder == "alice"


def test_workspaces_share_nothing(tmp_path: Path) -> None:
    home = WorkspaceHome(str(tmp_path))
    dev, prod = home.open("dev", "a"), home.open("prod", "a")
    dev.create("jobs", "only-in-dev", {})
    assert prod.list() == []
    assert home.names() == ["dev", "prod"]
    with pytest.raises(KilnError, match="invalid workspace name"):
        home.path("../escape")


def test_audit(ws) -> None:
    ws.audit("bundle.deploy", "/s", {"changes": ["create jobs.a"]})
    (entry,) = ws.audit_log()
    assert entry["action"] == "bundle.deploy" and entry["user"] == "alice@example.com"


def test_an_older_workspace_keeps_its_monitor_refreshes_when_upgraded(tmp_path: Path) -> None:
    """0005 kept refreshes as JSON in workspace_info; 0006 moves them into their table."""
    import json

    from sqlalchemy import create_engine

    from kiln.workspace.local.db import migrate
    from kiln.workspace.local.workspace import LocalWorkspace

    path = tmp_path / "old" / "metadata.db"
    path.parent.mkdir()
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine, "0005")  # a workspace made by the kiln before this change
    engine.dispose()
    old = [{"refresh_id": 1, "state": "SUCCESS"}, {"refresh_id": 2, "state": "FAILED"}]
    con = sqlite3.connect(path)
    con.execute("INSERT INTO workspace_info (key, value) VALUES (?, ?)",
                ("monitoring.refreshes.main.ml.t", json.dumps(old)))
    con.commit()
    con.close()
    ws = LocalWorkspace("old", str(path.parent), "alice@example.com")  # upgrades in place
    assert ws.monitor_refreshes("main.ml.t") == old
    assert ws.get_setting("monitoring.refreshes.main.ml.t") is None
    assert ws.add_monitor_refresh("main.ml.t", {"state": "RUNNING"}) == 3


def test_an_older_workspace_keeps_its_settings_in_typed_stores_when_upgraded(
        tmp_path: Path) -> None:
    """0007 kept schedules, endpoint states, the model policy (in two formats) and monitor
    windows as key-value settings; 0008 moves each into a table of its own."""
    import json

    from sqlalchemy import create_engine

    from kiln.workspace.local.db import migrate
    from kiln.workspace.local.workspace import LocalWorkspace

    path = tmp_path / "old" / "metadata.db"
    path.parent.mkdir()
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine, "0007")
    engine.dispose()
    con = sqlite3.connect(path)
    con.executemany("INSERT INTO workspace_info (key, value) VALUES (?, ?)", [
        ("scheduler.last_fire.7", "1767225600000"),
        ("serving.state.churn", json.dumps({"state": {"ready": "READY"}})),
        ("models.require_approval", "champion,serving"),
        ("models.replay_rule", json.dumps({"min_agreement": 0.9})),
        ("monitoring.windows.main.ml.t", json.dumps([["1 day", "2026-01-01T00:00:00"]])),
        ("kiln.server", json.dumps({"url": "http://x"}))])
    con.commit()
    con.close()
    ws = LocalWorkspace("old", str(path.parent), "alice@example.com")  # upgrades in place
    assert ws.last_fire("7") == 1767225600000
    assert ws.endpoint_state("churn") == {"state": {"ready": "READY"}}
    assert ws.model_policy() == {"require_approval": ["champion", "serving"],
                                 "replay_min_agreement": 0.9}
    assert ws.monitor_windows("main.ml.t") == {("1 day", "2026-01-01T00:00:00")}
    assert ws.get_setting("models.replay_rule") is None
    assert ws.get_setting("kiln.server") == json.dumps({"url": "http://x"})  # not moved
    ws.put_model_policy(replay_min_agreement=None)
    assert ws.model_policy()["require_approval"] == ["champion", "serving"]


def test_an_older_workspace_keeps_its_tables_and_functions_in_catalog_stores_when_upgraded(
        tmp_path: Path) -> None:
    """0008 kept the catalog's tables and functions as rows of the generic objects table;
    0009 moves them to catalog_tables and catalog_functions, with typed columns."""
    import json

    from sqlalchemy import create_engine

    from kiln.workspace.local.db import migrate
    from kiln.workspace.local.workspace import LocalWorkspace

    path = tmp_path / "old" / "metadata.db"
    path.parent.mkdir()
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine, "0008")
    engine.dispose()
    table = {"name": "t", "catalog_name": "main", "schema_name": "ml", "location": "/d/t",
             "table_type": "MANAGED", "columns": [{"name": "x", "type": "int64"}],
             "primary_keys": ["x"], "description": "keyed"}
    function = {"name": "f", "catalog_name": "main", "schema_name": "ml",
                "full_name": "main.ml.f", "data_type": "DOUBLE",
                "input_params": [{"name": "a", "type_name": "DOUBLE"}],
                "routine_definition": "return a * 2", "comment": None}
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO objects (kind, id, name, settings, created_at, updated_at, creator) "
        "VALUES (?, ?, ?, ?, 1, 2, 'bob@example.com')",
        [("tables", "main.ml.t", "t", json.dumps(table)),
         ("functions", "main.ml.f", "f", json.dumps(function)),
         ("schemas", "main.ml", "ml", json.dumps({"name": "ml", "catalog_name": "main"}))])
    con.commit()
    con.close()
    ws = LocalWorkspace("old", str(path.parent), "alice@example.com")  # upgrades in place
    got = ws.get("tables", "main.ml.t")
    assert (got.settings, got.creator, got.created_at) == (table, "bob@example.com", 1)
    assert ws.get("functions", "main.ml.f").settings == function
    assert [o.id for o in ws.list("schemas")] == ["main.ml"]
    con = sqlite3.connect(path)
    assert con.execute("SELECT id FROM uc_schemas").fetchall() == [("main.ml",)]
    assert con.execute("SELECT full_name, table_type, location, columns FROM catalog_tables"
                       ).fetchall() == [("main.ml.t", "MANAGED", "/d/t",
                                         '[{"name":"x","type":"int64"}]')]
    con.close()
    # and back: 0008 finds them where it kept them
    ws.close()
    downgrade(path, "0008")
    con = sqlite3.connect(path)
    assert sorted(r[0] for r in con.execute("SELECT kind FROM objects")) == \
        ["functions", "schemas", "tables"]
    assert json.loads(con.execute("SELECT settings FROM objects WHERE kind = 'tables'"
                                  ).fetchone()[0]) == table
    con.close()


def downgrade(path: Path, revision: str) -> None:
    """The SQLite metadata database at ``path``, migrated back to ``revision``."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from kiln.workspace.local.db import _MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", _MIGRATIONS)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    engine.dispose()


def older_workspace_with_deployables(url: str) -> None:
    """A workspace database at 0010, its jobs, endpoints and monitors rows of ``objects``
    (job ids were that table's sequence: 2 and 5, a schema 7 after them)."""
    from sqlalchemy import create_engine, text

    from kiln.workspace.local.db import migrate

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    migrate(engine, "0010")
    rows = [(2, "jobs", "2", "train", {"name": "train"}, "s#resources.jobs.train"),
            (5, "jobs", "5", "score", {"name": "score"}, None),
            (6, "model_serving_endpoints", "churn", "churn", {"name": "churn"},
             "s#resources.model_serving_endpoints.churn"),
            (7, "schemas", "main.ml", "ml", {"name": "ml", "catalog_name": "main"}, None),
            (8, "quality_monitors", "main.ml.t", "main.ml.t", {"table_name": "main.ml.t"},
             None)]
    with engine.begin() as c:
        for seq, kind, ident, name, settings, ref in rows:
            c.execute(text(
                "INSERT INTO objects (seq, kind, id, name, settings, bundle_ref, created_at, "
                "updated_at, creator) VALUES (:seq, :kind, :id, :name, :s, :ref, :seq, 9, "
                "'bob@example.com')"), {"seq": seq, "kind": kind, "id": ident, "name": name,
                                        "s": json.dumps(settings), "ref": ref})
    engine.dispose()


def check_deployables_moved(ws: Any) -> None:
    """What ``older_workspace_with_deployables`` wrote, read where 0011 moved it."""
    job = ws.get("jobs", "5")
    assert (job.name, job.settings, job.creator, job.created_at) == (
        "score", {"name": "score"}, "bob@example.com", 5)
    assert [o.id for o in ws.list("jobs")] == ["2", "5"]
    assert [o.id for o in ws.list(bundle_ref_prefix="s#")] == ["2", "churn"]
    assert ws.get("model_serving_endpoints", "churn").bundle_ref == \
        "s#resources.model_serving_endpoints.churn"
    assert ws.get("quality_monitors", "main.ml.t").settings == {"table_name": "main.ml.t"}
    assert [o.kind for o in ws.list()] == ["jobs", "jobs", "model_serving_endpoints",
                                           "schemas", "quality_monitors"]
    new = ws.create("jobs", "later", {"name": "later"})
    assert int(new.id) > 8  # above every id the old table gave
    for not_an_id in ("not-a-number", "9" * 30):  # no job has it: not an overflow
        with pytest.raises(NotFound):
            ws.get("jobs", not_an_id)


def test_an_older_workspace_keeps_its_jobs_endpoints_and_monitors_when_upgraded(
        tmp_path: Path) -> None:
    """0011 moves every deployable kind out of ``objects`` (dropped) into a table of its
    own; and back on a downgrade."""

    from kiln.workspace.local.workspace import LocalWorkspace

    path = tmp_path / "old" / "metadata.db"
    path.parent.mkdir()
    older_workspace_with_deployables(f"sqlite:///{path}")
    ws = LocalWorkspace("old", str(path.parent), "alice@example.com")  # upgrades in place
    check_deployables_moved(ws)
    ws.delete("jobs", "2")
    assert int(ws.create("jobs", "again", {"name": "again"}).id) > 9  # ids never come back
    con = sqlite3.connect(path)
    assert con.execute("SELECT id, name FROM uc_schemas").fetchall() == [("main.ml", "ml")]
    assert not con.execute("SELECT name FROM sqlite_master WHERE name = 'objects'").fetchall()
    con.close()
    ws.close()
    downgrade(path, "0010")
    con = sqlite3.connect(path)
    assert con.execute("SELECT max(seq) FROM objects").fetchone()[0] > 10
    assert sorted(con.execute("SELECT kind, id FROM objects")) == [
        ("jobs", "10"), ("jobs", "5"), ("jobs", "9"), ("model_serving_endpoints", "churn"),
        ("quality_monitors", "main.ml.t"), ("schemas", "main.ml")]
    # a job's seq is its id again, and the old code's next job id is above them all
    assert sorted(con.execute("SELECT seq, id FROM objects WHERE kind = 'jobs'")) == [
        (5, "5"), (9, "9"), (10, "10")]
    con.close()
