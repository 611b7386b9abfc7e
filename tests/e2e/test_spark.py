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
    # the run's runner is gone: so is the compute server it used. It withdraws its
    # state.json first (no new client may pick it) and then stops Sail, which takes a moment
    marker = f"kiln.compute.process {kiln.home}"
    deadline = time.monotonic() + 15
    while ((compute_state(kiln, "dev") is not None or live_processes(marker))
           and time.monotonic() < deadline):
        time.sleep(0.2)
    assert compute_state(kiln, "dev") is None
    assert not live_processes(marker)


# 2. one catalog: Spark, kiln.tables, kiln sql and the CLI see the same tables -------
ROUND_TRIP = {
    "databricks.yml": """
bundle: {name: rt}
resources:
  catalogs:
    dev: {name: dev}
  schemas:
    s: {name: s, catalog_name: dev}
  volumes:
    files: {name: files, catalog_name: dev, schema_name: s}
  jobs:
    rt:
      name: rt
      tasks:
        - task_key: write
          notebook_task: {notebook_path: ./write.py}
        - task_key: read
          depends_on: [{task_key: write}]
          spark_python_task: {python_file: ./read.py}
""",
    "write.py": NB + """
import pandas as pd
import kiln.tables as tables

spark.range(3).withColumnRenamed("id", "n").write.saveAsTable("dev.s.by_spark")
spark.range(3, 5).withColumnRenamed("id", "n").write.mode("append").saveAsTable("dev.s.by_spark")
tables.write("dev.s.by_kiln", pd.DataFrame({"k": ["a", "b"]}))
tables.write("dev.s.by_kiln", pd.DataFrame({"k": ["c"]}))
dbutils.fs.put("/Volumes/dev/s/files/note.txt", "written by dbutils", overwrite=True)
""" + CELL + """
# MAGIC %sql
# MAGIC CREATE TABLE dev.s.by_sql AS SELECT n * 10 AS m FROM dev.s.by_spark;
# MAGIC SELECT count(*) AS rows_in_by_sql FROM dev.s.by_sql
""",
    "read.py": """
from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
print("by_spark", spark.table("dev.s.by_spark").count(),
      spark.read.option("versionAsOf", 0).table("dev.s.by_spark").count())
print("by_kiln", sorted(r.k for r in spark.table("dev.s.by_kiln").collect()),
      spark.sql("SELECT count(*) AS c FROM dev.s.by_kiln VERSION AS OF 0").collect()[0].c)
print("note", spark.read.text("/Volumes/dev/s/files/note.txt").collect()[0].value)
print("tables", sorted(r.tableName for r in spark.sql("SHOW TABLES IN dev.s").collect()))
""",
}


def test_catalog_round_trip_between_spark_and_kiln(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "rt", ROUND_TRIP)
    kiln.run("bundle", "deploy", cwd=root)
    proc = kiln.run("bundle", "run", "rt", cwd=root, ok=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    logs = kiln.run("runs", "logs", "1", cwd=root).stdout
    assert "rows_in_by_sql" in logs and "5" in logs
    assert "by_spark 5 3" in logs
    assert "by_kiln ['a', 'b', 'c'] 2" in logs
    assert "note written by dbutils" in logs
    assert "tables ['by_kiln', 'by_spark', 'by_sql']" in logs
    listed = kiln.run("tables", "list", cwd=root).stdout.split()
    assert {"dev.s.by_spark", "dev.s.by_kiln", "dev.s.by_sql"} <= set(listed)
    got = json.loads(kiln.run("tables", "get", "dev.s.by_spark", cwd=root).stdout)
    assert got["table_type"] == "MANAGED"
    assert got["location"].endswith("/catalog/dev/s/by_spark")
    assert kiln.sql("SELECT sum(m) AS total FROM dev.s.by_sql", cwd=root) == [{"total": 100}]
    # time travel from kiln's side on the table Spark wrote
    out = bound_python(kiln, root, "import kiln.tables as t\n"
                       "print(len(t.read('dev.s.by_spark', version=0)), "
                       "len(t.read('dev.s.by_spark')))", target="default")
    assert out.strip() == "3 5"
    # a bound Python session gets the same catalog through kiln.session.spark()
    out = bound_python(kiln, root, "from kiln.session import spark\n"
                       "print(spark().table('dev.s.by_kiln').count())", target="default")
    assert out.strip() == "3"


# 3. failures say what failed ---------------------------------------------------------
FAILING = {
    "databricks.yml": """
bundle: {name: fails}
resources:
  catalogs:
    dev: {name: dev}
  schemas:
    s: {name: s, catalog_name: dev}
  jobs:
    unknown_table:
      name: unknown_table
      tasks:
        - task_key: query
          notebook_task: {notebook_path: ./unknown.py}
    killed:
      name: killed
      tasks:
        - task_key: slow
          notebook_task: {notebook_path: ./slow.py}
    quick:
      name: quick
      tasks:
        - task_key: quick
          notebook_task: {notebook_path: ./quick.py}
    missing_library:
      name: missing_library
      environments:
        - environment_key: e
          spec: {client: "2", dependencies: ["kiln-no-such-package-xyz==9.9.9"]}
      tasks:
        - task_key: t
          environment_key: e
          notebook_task: {notebook_path: ./quick.py}
""",
    "unknown.py": NB + "spark.table('dev.s.no_such_table').count()\n",
    "slow.py": NB + """
import os
import time

print(spark.range(2).count())
open(os.environ["READY_FILE"], "w").close()
time.sleep(3)
spark.range(3).count()
""",
    "quick.py": NB + "print('quick', spark.range(4).count())\n",
}


def test_spark_failures_are_reported_clearly(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "f", FAILING)
    kiln.run("bundle", "deploy", cwd=root)
    # an analysis error reaches the task's error and the run's output
    proc = kiln.run("bundle", "run", "unknown_table", cwd=root, ok=False)
    assert proc.returncode == 1
    assert "AnalysisException" in proc.stdout and "no_such_table" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr

    # the server killed while a task uses it: that task fails clearly, the next gets a new one
    ready = tmp_path / "ready"
    env = {**kiln.env(), "READY_FILE": str(ready)}
    run = subprocess.Popen([sys.executable, "-m", "kiln", "bundle", "run", "killed"], cwd=root,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    first = compute_state(kiln, "default")
    assert first is not None
    os.kill(first["pid"], signal.SIGKILL)
    out, _ = run.communicate(timeout=120)
    assert run.returncode == 1
    assert "Spark compute server stopped while this task was using it" in out, out
    proc = kiln.run("bundle", "run", "quick", cwd=root, ok=False)
    assert proc.returncode == 0, proc.stdout
    assert "quick 4" in kiln.run("runs", "logs", "3", cwd=root).stdout
    log = kiln.run("clusters", "logs", cwd=root).stdout
    assert log.count("Spark Connect on sc://") >= 2

    # a killed runner leaves no server behind
    ready.unlink()
    run = subprocess.Popen([sys.executable, "-m", "kiln", "bundle", "run", "killed"], cwd=root,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.05)
    server = compute_state(kiln, "default")
    assert server is not None
    run.kill()
    run.wait()
    deadline = time.monotonic() + 15
    while live_processes(f"kiln.compute.process {kiln.home}") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not live_processes(f"kiln.compute.process {kiln.home}")

    # a library that does not exist: pip's own words
    proc = kiln.run("bundle", "run", "missing_library", cwd=root, ok=False, timeout=300)
    assert proc.returncode == 1
    assert "kiln-no-such-package-xyz" in proc.stdout
    assert "No matching distribution found" in proc.stdout, proc.stdout


# 4. the same task on another Spark Connect server ------------------------------------
REMOTE = {
    "databricks.yml": """
bundle: {name: remote}
variables:
  spark_remote: {default: ""}
resources:
  jobs:
    j:
      name: j
      job_clusters:
        - job_cluster_key: elsewhere
          new_cluster:
            spark_version: 15.4.x-scala2.12
            spark_conf: {spark.remote: "${var.spark_remote}"}
      tasks:
        - task_key: t
          job_cluster_key: elsewhere
          notebook_task: {notebook_path: ./where.py}
""",
    "where.py": NB + "print('databases', sorted(d.name for d in spark.catalog.listDatabases()))\n",
}


def test_a_task_runs_on_a_remote_spark_connect_server(kiln: Kiln, tmp_path: Path) -> None:
    code = ("import os, sys, time\n"
            "os.environ['SAIL_CATALOG__LIST'] = "
            "'[{type=\"memory\", name=\"other\", initial_database=[\"only_on_the_remote\"]}]'\n"
            "from pysail.spark import SparkConnectServer\n"
            "s = SparkConnectServer('127.0.0.1', 0); s.start(background=True)\n"
            "print(s.listening_address[1], flush=True)\n"
            "sys.stdin.read()\n")
    server = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        root = write_files(tmp_path / "r", REMOTE)
        kiln.run("bundle", "deploy", "--var", f"spark_remote=sc://127.0.0.1:{port}", cwd=root)
        proc = kiln.run("bundle", "run", "j", cwd=root, ok=False)
        assert proc.returncode == 0, proc.stdout
        assert "databases ['only_on_the_remote']" in kiln.run("runs", "logs", "1",
                                                              cwd=root).stdout
        # the embedded compute was never started
        assert not (kiln.home / "workspaces" / "default" / "compute" / "server.log").exists()
    finally:
        server.kill()
        server.wait()


def test_destroy_leaves_nothing_visible_by_any_path(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "rt", ROUND_TRIP)
    kiln.run("bundle", "deploy", cwd=root)
    assert kiln.run("bundle", "run", "rt", cwd=root, ok=False, timeout=300).returncode == 0
    ws = kiln.home / "workspaces" / "default"
    assert (ws / "catalog" / "dev" / "s" / "by_spark").is_dir()
    assert (ws / "volumes" / "dev" / "s" / "files" / "note.txt").is_file()
    kiln.run("bundle", "destroy", "--auto-approve", cwd=root)
    assert kiln.run("tables", "list", cwd=root).stdout.split() == []
    for table in ("dev.s.by_spark", "dev.s.by_kiln", "dev.s.by_sql"):
        gone = kiln.run("sql", f"SELECT * FROM {table}", cwd=root, ok=False)
        assert gone.returncode == 1 and "does not exist" in gone.stdout + gone.stderr
    assert not (ws / "catalog" / "dev" / "s").exists()
    assert not (ws / "volumes" / "dev" / "s" / "files").exists()
    out = bound_python(kiln, root, "from kiln.session import spark\n"
                       "print(spark().catalog.tableExists('dev.s.by_spark'))", target="default")
    assert out.strip() == "False"
