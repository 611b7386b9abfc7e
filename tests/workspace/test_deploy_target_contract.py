"""One contract for what a deploy needs of a workspace (``DeployTarget``), run against the
in-process workspace and against the HTTP client of a kiln server (real HTTP on
127.0.0.1, the server's REST app in a thread)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.errors import KilnError
from kiln.workspace import AlreadyExists, DeployState, DeployTarget, LockHeld, NotFound, \
    StateConflict
from kiln.workspace.local import WorkspaceHome
from kiln.workspace.remote import Client, RemoteWorkspace
from tests.workspace.loopback import rest_app


@pytest.fixture(params=["in-process", "http"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeployTarget]:
    ws = WorkspaceHome(str(tmp_path)).open("dev", "alice@example.com")
    try:
        if request.param == "in-process":
            yield ws
            return
        _, value = ws.create_token("alice@example.com")
        with rest_app(ws) as url:
            yield RemoteWorkspace(Client(url, value))
    finally:
        ws.close()


def test_the_current_user_is_the_workspace_user_or_the_token_user(target: DeployTarget) -> None:
    assert target.current_user() == "alice@example.com"


def test_objects_round_trip(target: DeployTarget) -> None:
    a = target.create("jobs", "train", {"name": "train", "tasks": []}, bundle_ref="/s#jobs.a")
    b = target.create("jobs", "score", {"name": "score"})
    assert int(b.id) == int(a.id) + 1
    assert a.creator == "alice@example.com"
    assert target.get("jobs", a.id).settings == {"name": "train", "tasks": []}
    target.update("jobs", a.id, "train2", {"name": "train2"})
    assert target.get("jobs", a.id).name == "train2"
    assert [o.name for o in target.list("jobs", name="score")] == ["score"]
    assert [o.bundle_ref for o in target.list(bundle_ref_prefix="/s#")] == ["/s#jobs.a"]
    with pytest.raises(AlreadyExists, match="jobs.a is already deployed"):
        target.create("jobs", "a", {"name": "a"}, bundle_ref="/s#jobs.a")
    m = target.create("registered_models", "churn", {"name": "churn", "catalog_name": "main",
                                                     "schema_name": "ml"})
    assert m.id == "main.ml.churn" and target.get("registered_models", m.id).name == "churn"
    target.delete("jobs", a.id)
    with pytest.raises(NotFound, match=f"{a.id} does not exist"):
        target.get("jobs", a.id)
    with pytest.raises(NotFound):
        target.delete("jobs", a.id)


def test_files(target: DeployTarget, tmp_path: Path) -> None:
    src = tmp_path / "nb.py"
    src.write_bytes(b"print(1)\n\x00\xff")
    base = "/Workspace/Users/a/files"
    target.upload(base + "/nb.py", str(src))
    target.write(base + "/sub/x.txt", b"x")
    assert target.read(base + "/nb.py") == b"print(1)\n\x00\xff"
    assert target.list_files(base) == [base + "/nb.py", base + "/sub/x.txt"]
    assert target.path_kind(base + "/sub") == "DIRECTORY"
    assert target.path_kind(base + "/nb.py") == "FILE"
    assert target.path_kind(base + "/none") is None
    assert target.list_dir(base) == [("nb.py", False), ("sub", True)]
    target.delete_path(base + "/sub/x.txt")
    assert target.path_kind(base + "/sub") is None  # no empty directories left
    target.mkdirs(base + "/empty")
    assert target.path_kind(base + "/empty") == "DIRECTORY"
    target.delete_path(base, recursive=True)
    assert target.path_kind(base) is None
    with pytest.raises(NotFound):
        target.read(base + "/nb.py")
    for bad in ("relative/path", "/Workspace/../../etc/passwd", "/Volumes/a/../../x"):
        with pytest.raises(KilnError, match="workspace path"):
            target.write(bad, b"no")


def test_the_deploy_lock_is_exclusive_and_forceable(target: DeployTarget) -> None:
    first = target.acquire_lock("/state", "alice")
    with pytest.raises(LockHeld, match="deploy lock acquired by alice"):
        target.acquire_lock("/state", "bob")
    second = target.acquire_lock("/state", "bob", force=True)
    target.release_lock("/state", first.lock_id)  # a stale holder cannot release the new lock
    with pytest.raises(LockHeld, match="acquired by bob"):
        target.acquire_lock("/state", "carol")
    target.release_lock("/state", second.lock_id)
    target.acquire_lock("/state", "carol")


def test_state_serial_and_lineage(target: DeployTarget) -> None:
    assert target.read_state("/s") is None
    target.write_state(DeployState("/s", "L1", 1, {"a": 1}))
    target.write_state(DeployState("/s", "L1", 2, {"a": {"b": [1, None]}}))
    assert target.read_state("/s") == DeployState("/s", "L1", 2, {"a": {"b": [1, None]}})
    with pytest.raises(StateConflict, match="refusing to write older serial 2"):
        target.write_state(DeployState("/s", "L1", 2, {"a": 3}))
    with pytest.raises(StateConflict, match="lineage mismatch"):
        target.write_state(DeployState("/s", "L2", 9, {}))
    target.delete_state("/s")
    assert target.read_state("/s") is None


def test_unknown_object_kinds_are_refused(target: DeployTarget) -> None:
    with pytest.raises(KilnError):
        target.get("clusters", "1")
