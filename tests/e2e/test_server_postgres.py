"""A script that uses nothing but the official Databricks SDK tours a kiln server whose
metadata lives in SQLite, and one whose metadata lives in PostgreSQL, with the same
answers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import Kiln, Postgres
from tests.e2e.test_server_api import MLFLOW_CLIENT
from tests.e2e.test_server_target import kiln_server, token_of

pytestmark = pytest.mark.e2e

TOUR = Path(__file__).parent / "scripts" / "sdk_tour.py"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    pg = Postgres()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_an_sdk_script_tours_kiln_server(tmp_path: Path, store: str,
                                         request: pytest.FixtureRequest) -> None:
    db = request.getfixturevalue("postgres").database() if store == "postgresql" else None
    admin = Kiln(tmp_path / "server-home", user="admin@example.com")
    with kiln_server(admin, tmp_path, db) as url:
        token = token_of(admin, tmp_path, "admin@example.com")
        proc = subprocess.run([sys.executable, "-c", MLFLOW_CLIENT, url], text=True,
                              capture_output=True, timeout=300,
                              env={**admin.env(), "MLFLOW_TRACKING_TOKEN": token})
        assert proc.returncode == 0, proc.stderr  # main.ml.remote v1 @champion
        proc = subprocess.run([sys.executable, str(TOUR), url, token, "main.ml.remote"],
                              text=True, capture_output=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"user": "admin@example.com", "output": "45",
                    "tables": ["tour.s.numbers"], "models": {"main.ml.remote": ["champion"]},
                    "predictions": [1]}
    ws_dir = tmp_path / "server-home" / "workspaces" / "shared"
    if db is not None:  # the metadata is in PostgreSQL, not in a file
        import psycopg

        assert not (ws_dir / "metadata.db").exists()
        with psycopg.connect(db) as con:
            assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
            assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
    else:
        assert (ws_dir / "metadata.db").exists()


def test_an_older_postgresql_workspace_keeps_its_deployables_when_upgraded(
        tmp_path: Path, postgres: Postgres) -> None:
    """0011 on PostgreSQL: the moved jobs keep their ids, and new ones continue above every
    id the old table gave (its sequence is set, not started again at 1)."""
    from kiln.workspace.local import database
    from kiln.workspace.local.workspace import LocalWorkspace
    from tests.workspace.test_local_workspace import (
        check_deployables_moved,
        older_workspace_with_deployables,
    )

    url = postgres.database()
    older_workspace_with_deployables(url)
    database.record(str(tmp_path / "old"), url)
    ws = LocalWorkspace("old", str(tmp_path / "old"), "alice@example.com")  # upgrades
    try:
        check_deployables_moved(ws)
    finally:
        ws.close()
