"""The workspace service API, on the embedded (SQLite) implementation."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kiln.errors import KilnError
from kiln.workspace import AlreadyExists, DeployState, LockHeld, NotFound
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
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"objects", "deploy_locks", "deploy_state", "audit"} <= tables


def test_jobs_get_integer_ids_and_round_trip(ws) -> None:
    a = ws.create("jobs", "train", {"name": "train", "tasks": []})
    b = ws.create("jobs", "score", {"name": "score"})
    assert int(b.id) == int(a.id) + 1
    assert ws.get("jobs", a.id).settings == {"name": "train", "tasks": []}
    ws.update("jobs", a.id, "train2", {"name": "train2"})
    assert ws.get("jobs", a.id).name == "train2"
    assert [o.name for o in ws.list("jobs", name="score")] == ["score"]
    ws.delete("jobs", a.id)
    with pytest.raises(NotFound, match=f"job {a.id} does not exist in workspace dev"):
        ws.get("jobs", a.id)
    with pytest.raises(NotFound):
        ws.delete("jobs", a.id)


def test_catalog_objects_are_keyed_by_full_name(ws, tmp_path: Path) -> None:
    m = ws.create("registered_models", "churn", {"name": "churn", "catalog_name": "main",
                                                 "schema_name": "ml"})
    assert m.id == "main.ml.churn"
    with pytest.raises(AlreadyExists, match="registered model main.ml.churn already exists"):
        ws.create("registered_models", "churn", {"name": "churn", "catalog_name": "main",
                                                 "schema_name": "ml"})
    ws.create("volumes", "raw", {"name": "raw", "catalog_name": "main", "schema_name": "ml"})
    assert (tmp_path / "workspaces/dev/volumes/main/ml/raw").is_dir()


def test_one_object_per_bundle_address(ws) -> None:
    ws.create("jobs", "a", {"name": "a"}, bundle_ref="/state#jobs.a")
    with pytest.raises(AlreadyExists, match="jobs.a is already deployed as job"):
        ws.create("jobs", "a", {"name": "a"}, bundle_ref="/state#jobs.a")
    assert [o.bundle_ref for o in ws.list(bundle_ref_prefix="/state#")] == ["/state#jobs.a"]
    assert ws.list(bundle_ref_prefix="/other#") == []


def test_files(ws, tmp_path: Path) -> None:
    src = tmp_path / "nb.py"
    src.write_text("print(1)\n")
    ws.upload("/Workspace/Users/a/files/nb.py", str(src))
    ws.upload("/Workspace/Users/a/files/sub/x.txt", str(src))
    assert ws.read("/Workspace/Users/a/files/nb.py") == b"print(1)\n"
    assert ws.list_files("/Workspace/Users/a/files") == [
        "/Workspace/Users/a/files/nb.py", "/Workspace/Users/a/files/sub/x.txt"]
    ws.delete_path("/Workspace/Users/a/files/sub/x.txt")
    assert not os.path.exists(ws.local_path("/Workspace/Users/a/files/sub"))  # no empty dirs
    for bad in ("relative/path", "/Workspace/../../etc/passwd"):
        with pytest.raises(KilnError):
            ws.local_path(bad)


def test_lock_is_exclusive_and_forceable(ws) -> None:
    first = ws.acquire_lock("/state", "alice")
    with pytest.raises(LockHeld, match="deploy lock acquired by alice"):
        ws.acquire_lock("/state", "bob")
    second = ws.acquire_lock("/state", "bob", force=True)
    ws.release_lock("/state", first.lock_id)  # a stale holder cannot release the new lock
    with pytest.raises(LockHeld, match="acquired by bob"):
        ws.acquire_lock("/state", "carol")
    ws.release_lock("/state", second.lock_id)
    ws.acquire_lock("/state", "carol")


def test_lock_of_a_dead_process_is_taken_over(ws) -> None:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)
    dead = int(proc.stdout)
    with ws.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO deploy_locks VALUES ('/s', 'x', 'ghost', ?, ?, 0)",
                          (__import__("socket").gethostname(), dead))
    assert ws.acquire_lock("/s", "alice").holder == "alice"


def test_state_serial_and_lineage(ws) -> None:
    ws.write_state(DeployState("/s", "L1", 1, {"a": 1}))
    ws.write_state(DeployState("/s", "L1", 2, {"a": 2}))
    assert ws.read_state("/s") == DeployState("/s", "L1", 2, {"a": 2})
    with pytest.raises(KilnError, match="refusing to write older serial 2"):
        ws.write_state(DeployState("/s", "L1", 2, {"a": 3}))
    with pytest.raises(KilnError, match="lineage mismatch"):
        ws.write_state(DeployState("/s", "L2", 9, {}))
    ws.delete_state("/s")
    assert ws.read_state("/s") is None


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
