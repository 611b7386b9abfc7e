"""Spark in every task: real PySpark on the embedded Spark Connect engine (Sail), Delta
tables by their Unity Catalog names, one catalog shared with kiln's own commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOK_HEADER as NB, live_processes, write_files
from tests.e2e.helpers import Kiln

pytestmark = pytest.mark.e2e

CELL = "\n# COMMAND ----------\n\n"


@pytest.fixture
def kiln(tmp_path: Path) -> Kiln:
    return Kiln(tmp_path / "home")


def compute_state(kiln: Kiln, workspace: str) -> dict | None:
    path = kiln.home / "workspaces" / workspace / "compute" / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def bound_python(kiln: Kiln, root: Path, code: str, target: str = "dev") -> str:
    """Run ``code`` in a plain Python bound to the target's workspace (``kiln env``)."""
    env = dict(kiln.env())
    for line in kiln.run("env", "-t", target, cwd=root).stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# 1. a project in MLOps Stacks' shape, written for Databricks -----------------------
STACK = {
    "databricks.yml": """
bundle: {name: stack}
include: [resources/*.yml]
variables:
  catalog: {default: dev}
  schema: {default: churn}
targets:
  dev: {default: true}
""",
    "requirements.txt": "lightgbm>=4\n",
    "resources/ml.yml": """
resources:
  catalogs:
    dev: {name: "${var.catalog}"}
  schemas:
    churn: {name: "${var.schema}", catalog_name: "${var.catalog}"}
  volumes:
    raw: {name: raw, catalog_name: "${var.catalog}", schema_name: "${var.schema}"}
  jobs:
    data:
      name: data
      tasks:
        - task_key: Ingest
          notebook_task: {notebook_path: ../notebooks/Ingest.py}
    training:
      name: training
      environments:
        - environment_key: ml
          spec: {client: "2", dependencies: ["-r ../requirements.txt"]}
      parameters:
        - {name: model_name, default: "${var.catalog}.${var.schema}.churn_model"}
        - {name: raw_path, default: "/Volumes/${var.catalog}/${var.schema}/raw/customers"}
      tasks:
        - task_key: Train
          environment_key: ml
          notebook_task: {notebook_path: ../notebooks/Train.py}
        - task_key: ModelValidation
          depends_on: [{task_key: Train}]
          environment_key: ml
          notebook_task: {notebook_path: ../notebooks/ModelValidation.py}
        - task_key: ModelDeployment
          depends_on: [{task_key: ModelValidation}]
          environment_key: ml
          notebook_task: {notebook_path: ../notebooks/ModelDeployment.py}
    inference:
      name: inference
      environments:
        - environment_key: ml
          spec: {client: "2", dependencies: ["-r ../requirements.txt"]}
      tasks:
        - task_key: BatchInference
          environment_key: ml
          notebook_task: {notebook_path: ../notebooks/BatchInference.py}
""",
    "notebooks/Ingest.py": NB + """
import numpy as np
import pandas as pd

rng = np.random.default_rng(3)
n = 2000
pdf = pd.DataFrame({"customer_id": np.arange(n), "age": rng.integers(18, 80, n),
                    "charges": rng.normal(60, 20, n).round(2), "calls": rng.poisson(2, n)})
pdf["churned"] = ((pdf.calls > 2) & (pdf.charges > 55) | (pdf.age < 25)).astype("int64")
df = spark.createDataFrame(pdf)
df.write.format("delta").mode("overwrite").save("/Volumes/dev/churn/raw/customers")
df.write.mode("overwrite").saveAsTable("dev.churn.customers")
display(df.limit(3))
""",
    "notebooks/Train.py": NB + """
dbutils.widgets.text("model_name", "")
dbutils.widgets.text("raw_path", "")
""" + CELL + """
import lightgbm as lgb
import mlflow

mlflow.set_registry_uri("databricks-uc")
mlflow.lightgbm.autolog(log_input_examples=True)
pdf = spark.read.format("delta").load(dbutils.widgets.get("raw_path")).toPandas()
X, y = pdf[["age", "charges", "calls"]], pdf["churned"]
with mlflow.start_run() as run:
    model = lgb.LGBMClassifier(n_estimators=30, verbose=-1).fit(X, y)
version = mlflow.register_model(f"runs:/{run.info.run_id}/model",
                                dbutils.widgets.get("model_name")).version
dbutils.jobs.taskValues.set("model_version", str(version))
print("registered version", version)
""",
    "notebooks/ModelValidation.py": NB + """
dbutils.widgets.text("model_name", "")
dbutils.widgets.text("raw_path", "")
""" + CELL + """
import mlflow
from mlflow import MlflowClient

mlflow.set_registry_uri("databricks-uc")
name = dbutils.widgets.get("model_name")
version = dbutils.jobs.taskValues.get("Train", "model_version")
data = spark.sql(f"SELECT age, charges, calls, churned FROM delta.`{dbutils.widgets.get('raw_path')}`")
result = mlflow.evaluate(f"models:/{name}/{version}", data.toPandas(), targets="churned",
                         model_type="classifier", evaluators="default",
                         evaluator_config={"log_model_explainability": False})
accuracy = result.metrics["accuracy_score"]
status = "PASSED" if accuracy >= 0.7 else "FAILED"
MlflowClient().set_model_version_tag(name, version, "model_validation_status", status)
print(f"accuracy {accuracy:.3f} {status}")
assert status == "PASSED"
""",
    "notebooks/ModelDeployment.py": NB + """
dbutils.widgets.text("model_name", "")
""" + CELL + """
import mlflow
from mlflow import MlflowClient

mlflow.set_registry_uri("databricks-uc")
version = dbutils.jobs.taskValues.get("Train", "model_version")
MlflowClient().set_registered_model_alias(dbutils.widgets.get("model_name"), "champion", version)
""",
    "notebooks/BatchInference.py": NB + """
import mlflow
from pyspark.sql import functions as F

mlflow.set_registry_uri("databricks-uc")
predict = mlflow.pyfunc.spark_udf(spark, "models:/dev.churn.churn_model@champion",
                                  result_type="double")
scored = (spark.table("dev.churn.customers")
          .withColumn("prediction", predict(F.struct("age", "charges", "calls")))
          .select("customer_id", "prediction"))
scored.write.format("delta").mode("overwrite").saveAsTable("dev.churn.predictions")
print("predictions", spark.table("dev.churn.predictions").count())
""",
}


def test_mlops_stack_project_runs_on_spark_unchanged(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "stack", STACK)
    kiln.run("bundle", "deploy", cwd=root)
    for job in ("data", "training", "inference"):
        proc = kiln.run("bundle", "run", job, cwd=root, ok=False, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    logs = kiln.run("runs", "logs", "2", cwd=root).stdout
    assert "PASSED" in logs and "registered version 1" in logs
    versions = json.loads(kiln.run("models", "versions", "dev.churn.churn_model", "-o", "json",
                                   cwd=root).stdout)
    assert versions[0]["aliases"] == ["champion"]
    assert versions[0]["tags"]["model_validation_status"] == "PASSED"
    # the predictions are a kiln catalog table: kiln sql and kiln.tables read them
    rows = kiln.sql("SELECT count(*) AS n, min(prediction) AS lo, max(prediction) AS hi "
                    "FROM dev.churn.predictions", cwd=root)
    assert rows[0]["n"] == 2000 and 0 <= rows[0]["lo"] <= rows[0]["hi"] <= 1
    out = bound_python(kiln, root, "import kiln.tables as t\n"
                       "df = t.read('dev.churn.predictions')\n"
                       "print(len(df), sorted(df.columns))")
    assert out.strip() == "2000 ['customer_id', 'prediction']"
    listed = kiln.run("tables", "list", cwd=root).stdout.split()
    assert {"dev.churn.customers", "dev.churn.predictions"} <= set(listed)
    # the volume path is a real Delta table inside the workspace
    raw = kiln.home / "workspaces" / "dev" / "volumes" / "dev" / "churn" / "raw" / "customers"
    assert (raw / "_delta_log").is_dir()
    # the run's runner is gone: so is the compute server it used
    deadline = time.monotonic() + 10
    while compute_state(kiln, "dev") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert compute_state(kiln, "dev") is None
    assert not live_processes("kiln.compute.process " + str(kiln.home))
