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
import json
from datetime import timedelta

import pandas as pd
from databricks.feature_engineering import (FeatureEngineeringClient, FeatureFunction,
                                            FeatureLookup)

fe = FeatureEngineeringClient()
t0 = pd.Timestamp("2026-03-01", tz="UTC")
customers = spark.createDataFrame(pd.DataFrame({"customer_id": [1, 2], "age": [30, 40]}))
fe.create_table(name="main.fs.customers", primary_keys=["customer_id"], df=customers,
                description="who they are")
spend = spark.createDataFrame(pd.DataFrame({
    "customer_id": [1, 1], "ts": [t0, t0 + pd.Timedelta(days=2)], "spend": [1.0, 2.0]}))
fe.create_table(name="main.fs.spend", primary_keys=["customer_id", "ts"], timestamp_keys=["ts"],
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

# a model that carries its features: trained on them, scored from the keys alone
import mlflow
from sklearn.linear_model import LogisticRegression

mlflow.set_registry_uri("databricks-uc")
spark.sql('''CREATE FUNCTION main.fs.spend_per_year(spend DOUBLE, age INT)
RETURNS DOUBLE LANGUAGE PYTHON AS $$
return spend / age
$$''')
slim = fe.create_training_set(
    df=labels, label="y", exclude_columns=["at", "customer_id"],
    feature_lookups=[FeatureLookup(table_name="main.fs.customers", lookup_key="customer_id"),
                     FeatureLookup(table_name="main.fs.spend", lookup_key="customer_id",
                                   timestamp_lookup_key="at",
                                   lookback_window=timedelta(days=7),
                                   default_values={"spend": 0.0}),
                     FeatureFunction(udf_name="main.fs.spend_per_year",
                                     input_bindings={"spend": "spend", "age": "age"},
                                     output_name="spend_per_year")])
train = slim.load_df().toPandas()
model = LogisticRegression().fit(train.drop(columns=["y"]), train["y"])
with mlflow.start_run():
    fe.log_model(model=model, artifact_path="model", flavor=mlflow.sklearn,
                 training_set=slim, registered_model_name="main.fs.churn")
scored = fe.score_batch(model_uri="models:/main.fs.churn/1", df=labels.select("customer_id", "at"))
predictions = [r["prediction"] for r in scored.orderBy("customer_id", "at").collect()]
dbutils.notebook.exit(json.dumps({"rows": str(rows), "predictions": predictions,
                                  "columns": list(train.columns)}))
"""


def test_feature_engineering_code_runs_unchanged_in_a_task(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": BUNDLE, "build.py": BUILD})
    kiln.run("bundle", "deploy", cwd=root)
    out = kiln.run("bundle", "run", "features", cwd=root, timeout=300)
    assert "SUCCESS" in out.stdout
    run_id = out.stdout.split("Run ")[-1].split()[0]
    got = json.loads(kiln.run("runs", "get-output", run_id, cwd=root).stdout)
    result = json.loads(got["notebook_output"]["result"])
    assert result["rows"] == "[(1, 30, 1.0, 0), (1, 30, 2.0, 1), (2, 40, 0.0, 1)]"
    assert len(result["predictions"]) == 3
    assert result["columns"] == ["y", "age", "spend", "spend_per_year"]
    fn = json.loads(kiln.run("functions", "get", "main.fs.spend_per_year", cwd=root).stdout)
    assert [p["name"] for p in fn["input_params"]] == ["spend", "age"]
    assert fn["routine_definition"].strip() == "return spend / age"
    table = json.loads(kiln.run("tables", "get", "main.fs.spend", cwd=root).stdout)
    assert table["primary_keys"] == ["customer_id", "ts"] and table["timeseries_column"] == "ts"


def test_a_served_model_looks_its_features_up_from_the_keys(tmp_path: Path) -> None:
    import httpx

    from tests.e2e.test_serving import Server, token

    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": BUNDLE + SERVED, "build.py": BUILD})
    kiln.run("bundle", "deploy", cwd=root)
    out = kiln.run("bundle", "run", "features", cwd=root, timeout=300)
    run_id = out.stdout.split("Run ")[-1].split()[0]
    batch = json.loads(json.loads(kiln.run("runs", "get-output", run_id, cwd=root).stdout)
                       ["notebook_output"]["result"])["predictions"]
    # the lineage: feature tables -> the model version -> the endpoint that serves it
    chain = kiln.run("lineage", "main.fs.churn", cwd=root).stdout
    for edge in ("table main.fs.customers@0 -> model main.fs.churn v1",
                 "table main.fs.spend@0 -> model main.fs.churn v1",
                 "model main.fs.churn v1 -> endpoint churn  (serves)"):
        assert edge in chain, chain
    server = Server(kiln, root)
    try:
        auth = {"Authorization": f"Bearer {token(kiln, root)}"}
        url = f"{server.url}/serving-endpoints/churn/invocations"
        keys = [{"customer_id": 1, "at": "2026-03-02T00:00:00Z"},
                {"customer_id": 1, "at": "2026-03-04T00:00:00Z"},
                {"customer_id": 2, "at": "2026-03-01T00:00:00Z"}]
        deadline = __import__("time").monotonic() + 120
        while True:
            r = httpx.post(url, json={"dataframe_records": keys}, headers=auth, timeout=60)
            if r.status_code != 503 or __import__("time").monotonic() > deadline:
                break
            __import__("time").sleep(0.5)
        assert r.status_code == 200, r.text
        assert [float(p) for p in r.json()["predictions"]] == batch  # the same as score_batch
        r = httpx.post(url, json={"dataframe_records": [{"customer_id": 99,
                                                         "at": "2026-03-02T00:00:00Z"}]},
                       headers=auth, timeout=60)
        assert r.status_code == 400 and "customer_id=99" in r.text and \
            "main.fs.customers" in r.text, r.text
    finally:
        assert server.stop() == 0
    # the inference table logs what the model scored: the keys and the looked-up features
    logged = json.loads(kiln.run("sql", "SELECT * FROM main.fs.churn_payload_unpacked "
                                 "ORDER BY customer_id, \"at\"", "-o", "json", cwd=root).stdout)
    assert [(row["customer_id"], row["age"]) for row in logged] == [(1, 30), (1, 30), (2, 40)]


SERVED = """
  model_serving_endpoints:
    churn:
      name: churn
      config:
        served_entities:
          - {entity_name: main.fs.churn, entity_version: "1", workload_size: Small,
             scale_to_zero_enabled: false}
        auto_capture_config: {catalog_name: main, schema_name: fs, table_name_prefix: churn}
"""
