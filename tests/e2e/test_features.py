"""Feature Engineering code written for Databricks runs in a kiln job task unchanged:
``from databricks.feature_engineering import ...`` with Spark DataFrames in and out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write_files
from tests.e2e.helpers import Kiln

pytestmark = pytest.mark.e2e

BUNDLE = """
bundle: {name: fs}
resources:
  schemas:
    fs: {name: fs, catalog_name: main}
  jobs:
    features:
      name: features
      tasks:
        - task_key: build
          notebook_task: {notebook_path: ./build.py}
"""
BUILD = """# Databricks notebook source
from datetime import timedelta

import pandas as pd
from databricks.feature_engineering import FeatureEngineeringClient, FeatureLookup

fe = FeatureEngineeringClient()
t0 = pd.Timestamp("2026-03-01", tz="UTC")
customers = spark.createDataFrame(pd.DataFrame({"customer_id": [1, 2], "age": [30, 40]}))
fe.create_table(name="main.fs.customers", primary_keys=["customer_id"], df=customers,
                description="who they are")
spend = spark.createDataFrame(pd.DataFrame({
    "customer_id": [1, 1], "ts": [t0, t0 + pd.Timedelta(days=2)], "spend": [1.0, 2.0]}))
fe.create_table(name="main.fs.spend", primary_keys=["customer_id"], timestamp_keys=["ts"],
                df=spend)
labels = spark.createDataFrame(pd.DataFrame({
    "customer_id": [1, 1, 2], "at": [t0 + pd.Timedelta(days=1), t0 + pd.Timedelta(days=3),
                                     t0], "y": [0, 1, 1]}))
training = fe.create_training_set(
    df=labels, label="y", exclude_columns=["at"],
    feature_lookups=[FeatureLookup(table_name="main.fs.customers", lookup_key="customer_id"),
                     FeatureLookup(table_name="main.fs.spend", lookup_key="customer_id",
                                   timestamp_lookup_key="at",
                                   lookback_window=timedelta(days=7),
                                   default_values={"spend": 0.0})])
df = training.load_df()
rows = sorted((r["customer_id"], r["age"], r["spend"], r["y"]) for r in df.collect())
dbutils.notebook.exit(str(rows))
"""


def test_feature_engineering_code_runs_unchanged_in_a_task(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": BUNDLE, "build.py": BUILD})
    kiln.run("bundle", "deploy", cwd=root)
    out = kiln.run("bundle", "run", "features", cwd=root, timeout=300)
    assert "SUCCESS" in out.stdout
    run_id = out.stdout.split("Run ")[-1].split()[0]
    got = json.loads(kiln.run("runs", "get-output", run_id, cwd=root).stdout)
    assert got["notebook_output"]["result"] == "[(1, 30, 1.0, 0), (1, 30, 2.0, 1), (2, 40, 0.0, 1)]"
    table = json.loads(kiln.run("tables", "get", "main.fs.spend", cwd=root).stdout)
    assert table["primary_keys"] == ["customer_id", "ts"] and table["timeseries_column"] == "ts"
