"""Benchmark: one feature-engineering notebook on 1M taxi-like rows (sliding-window
aggregates per pickup zone, a Python UDF, a table write), run side by side in one run

- by kiln, as a job task on the workspace's embedded engine (Sail over Spark Connect),
  writing a Delta table in the catalog: `kiln bundle run features`, whole command;
- by plain PySpark from PyPI in local mode (a JVM, `local[*]`), writing Parquet (it has no
  Delta jars and none can be downloaded here): `python features.py`, whole command.

Both start cold: kiln starts its compute server for the run and stops it after, the
script starts and stops its JVM. Also timed: a trivial Spark task (`spark.range(1)`) as a
whole `kiln bundle run`. Goals: kiln at least 5x faster end to end; the trivial task at
most 1.5 s of wall time.

PySpark (JVM) is installed into `benchmarks/.venv-pyspark` the first time (from PyPI).
Run alone: `.venv/bin/python benchmarks/bench_spark.py [--runs N] [--rows N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from peers import peer_python

HERE = os.path.dirname(os.path.abspath(__file__))
KILN = os.path.join(os.path.dirname(sys.executable), "kiln")

# the same feature engineering for both engines; only the sink differs
FEATURES = '''
from pyspark.sql import Window
from pyspark.sql import functions as F

ROWS = {rows}
trips = (spark.range(ROWS)
         .withColumn("pickup_ts", (F.lit(1_767_225_600) + F.col("id") * 3).cast("timestamp"))
         .withColumn("zone", (F.rand(1) * 260).cast("int"))
         .withColumn("distance_km", F.round(F.rand(2) * 20 + 0.5, 2))
         .withColumn("passengers", (F.rand(3) * 4 + 1).cast("int"))
         .withColumn("fare", F.round(F.col("distance_km") * 2.1 + F.rand(4) * 5 + 3, 2)))

@F.udf("string")
def fare_band(fare):
    return "low" if fare < 10 else "mid" if fare < 30 else "high"

seconds = F.col("pickup_ts").cast("long")
last_hour = Window.partitionBy("zone").orderBy(seconds).rangeBetween(-3600, 0)
last_day = Window.partitionBy("zone").orderBy(seconds).rangeBetween(-86400, 0)
features = (trips
            .withColumn("zone_trips_1h", F.count("*").over(last_hour))
            .withColumn("zone_avg_fare_1h", F.avg("fare").over(last_hour))
            .withColumn("zone_avg_km_24h", F.avg("distance_km").over(last_day))
            .withColumn("fare_per_km", F.col("fare") / F.col("distance_km"))
            .withColumn("fare_band", fare_band("fare")))
'''

KILN_NOTEBOOK = "# Databricks notebook source\n" + FEATURES + '''
features.write.format("delta").mode("overwrite").saveAsTable("bench.taxi.features")
print("rows", spark.table("bench.taxi.features").count())
'''

JVM_SCRIPT = '''
import os, sys
from pyspark.sql import SparkSession


spark = (SparkSession.builder.master("local[*]").appName("bench")
         .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
         .config("spark.driver.memory", "4g").getOrCreate())
''' + FEATURES + '''
out = sys.argv[1]
features.write.mode("overwrite").parquet(out)
print("rows", spark.read.parquet(out).count())
spark.stop()
'''

BUNDLE = """
bundle: {name: bench}
resources:
  catalogs:
    bench: {name: bench}
  schemas:
    taxi: {name: taxi, catalog_name: bench}
  jobs:
    features:
      name: features
      tasks: [{task_key: features, notebook_task: {notebook_path: ./features.py}}]
    trivial:
      name: trivial
      tasks: [{task_key: trivial, notebook_task: {notebook_path: ./trivial.py}}]
"""


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "bench_spark.json"))
    args = ap.parse_args()
    peer = peer_python("pyspark", "pyspark==4.0.*", "pandas<3", "pyarrow")
    work = tempfile.mkdtemp(prefix="kiln-bench-spark-")
    project = os.path.join(work, "project")
    os.makedirs(project)
    with open(os.path.join(project, "databricks.yml"), "w") as f:
        f.write(BUNDLE)
    with open(os.path.join(project, "features.py"), "w") as f:
        f.write(KILN_NOTEBOOK.format(rows=args.rows))
    with open(os.path.join(project, "trivial.py"), "w") as f:
        f.write("# Databricks notebook source\nprint(spark.range(1).count())\n")
    script = os.path.join(work, "features_jvm.py")
    with open(script, "w") as f:
        f.write(JVM_SCRIPT.format(rows=args.rows))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "SPARK_"))}
    env["KILN_HOME"] = os.path.join(work, "home")
    subprocess.run([KILN, "bundle", "deploy"], cwd=project, env=env, check=True,
                   capture_output=True)
    timed([KILN, "bundle", "run", "trivial"], project, env)  # warm the OS caches once

    kiln_s, jvm_s, trivial_s = [], [], []
    for i in range(args.runs):
        s, out = timed([KILN, "bundle", "run", "features"], project, env)
        kiln_s.append(s)
        s, out = timed([peer, script, os.path.join(work, f"out-{i}")], work, env)
        assert f"rows {args.rows}" in out, out
        jvm_s.append(s)
        s, _ = timed([KILN, "bundle", "run", "trivial"], project, env)
        trivial_s.append(s)
        print(f"run {i + 1}: kiln {kiln_s[-1]:.2f} s, pyspark local {jvm_s[-1]:.2f} s, "
              f"trivial task {trivial_s[-1]:.2f} s", flush=True)
    logs = subprocess.run([KILN, "runs", "logs", "2"], cwd=project, env=env,
                          capture_output=True, text=True).stdout
    assert f"rows {args.rows}" in logs, logs
    k, j, t = (statistics.median(x) for x in (kiln_s, jvm_s, trivial_s))
    print()
    print(f"{'engine':34} {'median s':>9}  runs")
    print(f"{'kiln task (Sail, Delta)':34} {k:9.2f}  " + ", ".join(f"{x:.2f}" for x in kiln_s))
    print(f"{'pyspark local[*] (JVM, Parquet)':34} {j:9.2f}  "
          + ", ".join(f"{x:.2f}" for x in jvm_s))
    print(f"{'kiln trivial Spark task':34} {t:9.2f}  "
          + ", ".join(f"{x:.2f}" for x in trivial_s))
    print(f"\nkiln is {j / k:.1f}x faster end to end (goal: >= 5x); trivial task {t:.2f} s "
          "(goal: <= 1.5 s)")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"rows": args.rows, "kiln_s": kiln_s, "pyspark_local_s": jvm_s,
                   "trivial_task_s": trivial_s, "ratio": j / k, "machine": platform.node(),
                   "python": platform.python_version(),
                   "date": time.strftime("%Y-%m-%d")}, f, indent=2)


if __name__ == "__main__":
    main()
