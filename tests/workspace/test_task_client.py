"""Task code's workspace client: the embedded workspace's calls in process, and a kiln
server's REST API with a job run's own token, answer the same questions the same way."""

from __future__ import annotations

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
def client(request: pytest.FixtureRequest, ws: Any) -> Iterator[Any]:
    if request.param == "embedded":
        yield EmbeddedClient(ws.local_root())
        return
    token = run_token(ws)
    with rest_app(ws) as url:
        yield ServerClient(url, token)


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
