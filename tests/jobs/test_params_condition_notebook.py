"""Dynamic value references, condition tasks, notebook parsing, dbutils outside a job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiln.errors import KilnError
from kiln.jobs.condition import evaluate
from kiln.notebook import load_cells
from kiln.jobs.params import RunContext, substitute
from kiln.jobs.runtime.dbutils import DBUtils, NotebookExit

CTX = RunContext(job_id=7, run_id=42, job_name="train", start_time_ms=1_700_000_000_000,
                 parameters={"date": "2024-05-01"},
                 task_values={"train": {"model_uri": "models:/m/3", "auc": 0.91}},
                 task_key="eval")


@pytest.mark.parametrize("text,expected", [
    ("{{job.id}}/{{job.run_id}}", "7/42"),
    ("{{ job.parameters.date }}", "2024-05-01"),
    ("{{tasks.train.values.model_uri}}", "models:/m/3"),
    ("{{tasks.train.values.auc}}", "0.91"),
    ("{{job.start_time.iso_date}}", "2023-11-14"),
    ("{{task.name}} {{job.name}}", "eval train"),
    ("no refs", "no refs"),
])
def test_dynamic_references(text: str, expected: str) -> None:
    assert substitute({"x": [text]}, CTX) == {"x": [expected]}


@pytest.mark.parametrize("text,message", [
    ("{{job.parameters.nope}}", "unknown job parameter"),
    ("{{tasks.train.values.nope}}", "was not set by task train"),
    ("{{bogus.ref}}", "unknown dynamic value reference"),
])
def test_unknown_references_are_errors(text: str, message: str) -> None:
    with pytest.raises(KilnError, match=message):
        substitute(text, CTX)


@pytest.mark.parametrize("op,left,right,expected", [
    ("EQUAL_TO", "true", "true", True), ("EQUAL_TO", "12.0", "12", False),
    ("NOT_EQUAL", "a", "b", True), ("GREATER_THAN", "12.0", "12", False),
    ("GREATER_THAN_OR_EQUAL", "12.0", "12", True), ("LESS_THAN", "9", "10", True),
    ("LESS_THAN_OR_EQUAL", "10", "9", False),
])
def test_conditions(op: str, left: str, right: str, expected: bool) -> None:
    assert evaluate(op, left, right) is expected


def test_numeric_condition_on_text_is_an_error() -> None:
    with pytest.raises(KilnError, match="compares numbers"):
        evaluate("GREATER_THAN", "high", "1")


def test_source_notebook_cells_run_and_magics(tmp_path: Path) -> None:
    (tmp_path / "lib.py").write_text("# Databricks notebook source\nHELPER = 1\n")
    (tmp_path / "main.py").write_text(
        "# Databricks notebook source\n# MAGIC %md\n# MAGIC # Title\n\n# COMMAND ----------\n\n"
        "# MAGIC %run ./lib\n\n# COMMAND ----------\n\nx = HELPER + 1\n\n"
        "# COMMAND ----------\n\n# MAGIC %sh echo hi\n")
    cells = load_cells(str(tmp_path / "main"))
    assert [c.magic for c in cells] == [None, None, "sh"]
    assert cells[0].source.strip() == "HELPER = 1"
    assert cells[1].source.strip() == "x = HELPER + 1" and cells[1].first_line == 10
    assert cells[2].source == "echo hi"


def test_run_cycle_and_missing_notebook(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("# Databricks notebook source\n# MAGIC %run ./b\n")
    (tmp_path / "b.py").write_text("# Databricks notebook source\n# MAGIC %run ./a\n")
    with pytest.raises(KilnError, match="%run cycle"):
        load_cells(str(tmp_path / "a.py"))
    with pytest.raises(KilnError, match="notebook .*missing not found"):
        load_cells(str(tmp_path / "missing"))


def test_ipynb_cells(tmp_path: Path) -> None:
    import json

    (tmp_path / "n.ipynb").write_text(json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["# T"]},
        {"cell_type": "code", "source": ["a = 1\n", "b = a + 1"]},
        {"cell_type": "code", "source": "%pip install x"}]}))
    cells = load_cells(str(tmp_path / "n.ipynb"))
    assert [(c.magic, c.source) for c in cells] == [(None, "a = 1\nb = a + 1"), ("pip", "install x")]


def test_dbutils_in_a_plain_session() -> None:
    d = DBUtils()
    d.widgets.text("catalog", "dev")
    d.widgets.dropdown("mode", "a", ["a", "b"])
    assert d.widgets.get("catalog") == "dev" and d.widgets.getArgument("nope", "x") == "x"
    with pytest.raises(KilnError, match="no input widget named missing"):
        d.widgets.get("missing")
    assert d.jobs.taskValues.get("train", "auc", debugValue=0.5) == 0.5
    d.jobs.taskValues.set("k", {"a": 1})
    with pytest.raises(KilnError, match="JSON-serializable"):
        d.jobs.taskValues.set("k", object())
    with pytest.raises(NotebookExit) as e:
        d.notebook.exit(3)
    assert e.value.value == "3"


def test_dbutils_fs_maps_workspace_and_volume_paths(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from kiln.catalog import Catalog
    from kiln.errors import PermissionDenied
    from kiln.identity import Identities
    from kiln.jobs.runtime.dbutils import TaskContext
    from kiln.workspace.local import WorkspaceHome

    ws = WorkspaceHome(str(tmp_path)).open("dev", "alice@example.com")
    root = Path(ws.local_root())
    monkeypatch.setenv("KILN_USER", "alice@example.com")
    d = DBUtils(TaskContext(workspace_dir=str(root)))
    d.fs.put("/Volumes/main/ml/raw/a.txt", "hello")  # nothing enforced while no admins
    assert (root / "volumes/main/ml/raw/a.txt").read_text() == "hello"
    d.fs.cp("/Volumes/main/ml/raw/a.txt", "/Workspace/Shared/b.txt")
    assert d.fs.head("/Workspace/Shared/b.txt") == "hello"
    assert [f["name"] for f in d.fs.ls("/Volumes/main/ml/raw")] == ["a.txt"]
    assert d.fs.rm("/Workspace/Shared/b.txt") and not d.fs.rm("/Workspace/Shared/b.txt")

    # with admins, a volume's privileges hold: READ VOLUME to read, WRITE VOLUME to write
    Identities(ws).add("root@example.com", "USER")
    Identities(ws).set_membership("admins", "root@example.com", True)
    admin = ws.as_user("root@example.com")
    Catalog(admin).create_catalog("main")
    Catalog(admin).create_schema("main", "ml")
    Catalog(admin).create_volume("main", "ml", "raw")
    with pytest.raises(PermissionDenied):
        d.fs.head("/Volumes/main/ml/raw/a.txt")
    for securable, name, privilege in (("catalog", "main", "USE_CATALOG"),
                                       ("schema", "main.ml", "USE_SCHEMA"),
                                       ("volume", "main.ml.raw", "READ_VOLUME")):
        admin.change_grants(securable, name, "alice@example.com", [privilege], [])
    assert d.fs.head("/Volumes/main/ml/raw/a.txt") == "hello"
    for write in (lambda: d.fs.put("/Volumes/main/ml/raw/b.txt", "no"),
                  lambda: d.fs.rm("/Volumes/main/ml/raw/a.txt"),
                  lambda: d.fs.cp("/Workspace/x", "/Volumes/main/ml/raw/c.txt")):
        with pytest.raises(PermissionDenied):
            write()
    assert sorted(os.listdir(root / "volumes/main/ml/raw")) == ["a.txt"]
    ws.close()
    with pytest.raises(KilnError):
        d.fs.put("/Volumes/../../etc/x", "no")
