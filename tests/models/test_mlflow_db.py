"""kiln reads MLflow's store with sqlite3: what it reads is what MLflow's own client
answers, what it writes MLflow's client reads back, and the schema is the installed
MLflow's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiln.errors import KilnError, NotFound
from kiln.models import store
from kiln.models.mlflow_db import SCHEMA, MlflowDb


def test_the_schema_is_the_installed_mlflows() -> None:
    con = sqlite3.connect(store._template())
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == SCHEMA


@pytest.fixture
def filled(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = str(tmp_path)
    client = store.client(root)
    exp = client.create_experiment("/e")
    runs = []
    for i in range(3):
        run = client.create_run(exp, run_name=f"r{i}", tags={"kiln.job_run_id": str(i),
                                                              "kiln.task_key": "train"})
        client.log_metric(run.info.run_id, "auc", 0.5 + i / 10)
        client.log_metric(run.info.run_id, "auc", 0.6 + i / 10, step=1)
        client.log_param(run.info.run_id, "C", str(i))
        client.set_terminated(run.info.run_id)
        runs.append(run.info.run_id)
    for m in ("main.s.a", "main.s.b"):
        client.create_registered_model(m, description=f"model {m}", tags={"team": "x"})
        for run_id in runs:
            client.create_model_version(m, "file:///nowhere", run_id=run_id,
                                        tags={"k": run_id})
    client.set_registered_model_alias("main.s.a", "champion", "2")
    client.delete_model_version("main.s.b", "3")
    return client, MlflowDb(store.db_path(root)), runs, exp


def test_reads_equal_mlflows_own(filled) -> None:  # type: ignore[no-untyped-def]
    client, db, runs, exp = filled
    theirs = sorted(client.search_registered_models(), key=lambda m: m.name)
    ours = db.models()
    assert [(m.name, m.description, m.tags, m.aliases, m.creation_timestamp) for m in ours] == \
        [(m.name, m.description, m.tags, m.aliases, m.creation_timestamp) for m in theirs]
    for name in ("main.s.a", "main.s.b"):
        theirs_v = [client.get_model_version(name, v.version)  # aliases filled in
                    for v in sorted(client.search_model_versions(f"name = '{name}'"),
                                    key=lambda v: int(v.version))]
        assert [(v.version, v.run_id, v.tags, v.aliases, v.status, v.source)
                for v in db.versions(name)] == \
            [(int(v.version), v.run_id, v.tags, v.aliases, v.status, v.source)
             for v in theirs_v]
    assert db.by_alias("main.s.a", "champion").version == 2
    assert db.by_alias("main.s.a", "nope") is None
    with pytest.raises(NotFound, match="version 3 of main.s.b does not exist"):
        db.version("main.s.b", 3)  # deleted
    run = db.run(runs[1])
    mlflow_run = client.get_run(runs[1])
    assert (run.data.metrics, run.data.params, run.info.run_name, run.info.status) == \
        (mlflow_run.data.metrics, mlflow_run.data.params, mlflow_run.info.run_name,
         mlflow_run.info.status)
    assert run.data.tags["kiln.task_key"] == "train"
    assert [r.info.run_id for r in db.runs(exp, 2)] == [
        r.info.run_id for r in client.search_runs([exp], max_results=2,
                                                  order_by=["attributes.start_time DESC"])]
    assert db.experiment("/e").experiment_id == exp == db.experiment(exp).experiment_id
    assert db.runs_tagged({"kiln.job_run_id": "2", "kiln.task_key": "train"}) == [runs[2]]
    assert sorted((v.name, v.version) for v in db.versions_of_runs([runs[0]])) == [
        ("main.s.a", 1), ("main.s.b", 1)]


def test_writes_are_mlflows_rows(filled) -> None:  # type: ignore[no-untyped-def]
    client, db, _, _ = filled
    db.set_alias("main.s.a", "champion", 3)
    db.set_alias("main.s.a", "challenger", 1)
    assert str(client.get_model_version_by_alias("main.s.a", "champion").version) == "3"
    assert client.get_registered_model("main.s.a").aliases == {"champion": 3, "challenger": 1}
    db.delete_alias("main.s.a", "challenger")
    assert client.get_registered_model("main.s.a").aliases == {"champion": 3}
    db.set_version_tags("main.s.a", 2, {"kiln.approval.status": "approved", "k": "new"})
    assert client.get_model_version("main.s.a", "2").tags["kiln.approval.status"] == "approved"
    assert client.get_model_version("main.s.a", "2").tags["k"] == "new"
    with pytest.raises(NotFound, match="version 9 of main.s.a does not exist"):
        db.set_alias("main.s.a", "champion", 9)
    assert db.by_alias("main.s.a", "champion").version == 3  # nothing half-done


def test_a_store_at_another_revision_is_refused(filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, db, _, _ = filled
    con = sqlite3.connect(db.path)
    con.execute("UPDATE alembic_version SET version_num = 'abc123'")
    con.commit()
    with pytest.raises(KilnError, match=f"at schema revision abc123; this kiln reads "
                                        f"revision {SCHEMA}"):
        MlflowDb(db.path).models()


def test_what_promotion_records_mlflow_reads_back(filled, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, db, _, _ = filled
    exp = db.experiment_id("/kiln/promotions", str(tmp_path / "promotions"))
    assert db.experiment_id("/kiln/promotions", "elsewhere") == exp  # found, not made twice
    run = db.record_run(exp, "ann@x.com", {"mlflow.runName": "promote", "origin": "dev"},
                        {"auc": 0.75}, {"C": "1"})
    theirs = client.get_run(run.run_id)
    assert (theirs.info.status, theirs.info.run_name, theirs.info.user_id) == \
        ("FINISHED", "promote", "ann@x.com")
    assert theirs.data.metrics == {"auc": 0.75} and theirs.data.params == {"C": "1"}
    assert theirs.data.tags["origin"] == "dev"
    assert client.get_metric_history(run.run_id, "auc")[0].value == 0.75
    db.create_model("main.s.copy", "copied", {"team": "y"})
    mv = db.create_version("main.s.copy", "/models/x", run.run_id, {"k": "v"}, "d", "/models/x")
    got = client.get_model_version("main.s.copy", str(mv.version))
    assert (str(got.version), got.run_id, got.tags, got.status, got.source) == \
        ("1", run.run_id, {"k": "v"}, "READY", "/models/x")
    assert client.get_registered_model("main.s.copy").tags == {"team": "y"}
    assert db.create_version("main.s.copy", "/m", run.run_id, {}, "", "/m").version == 2
