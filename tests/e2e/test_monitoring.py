"""Quality monitors end to end: a job writes a table whose distribution drifts on the third
day (timestamps set by the test's data), a refresh flags exactly that column, and the
alert starts the retraining job, whose model comes out as the challenger."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOK_HEADER as NB, write_files
from tests.e2e.helpers import Kiln

pytestmark = pytest.mark.e2e

BUNDLE = """
bundle: {name: mon}
resources:
  schemas:
    ml: {name: ml, catalog_name: main}
  jobs:
    data:
      name: data
      tasks: [{task_key: t, notebook_task: {notebook_path: ./data.py}}]
    retrain:
      name: retrain
      tasks:
        - task_key: train
          notebook_task: {notebook_path: ./train.py}
        - task_key: validate
          depends_on: [{task_key: train}]
          notebook_task:
            notebook_path: ./validate.py
            base_parameters: {model_uri: "{{tasks.train.values.model_uri}}"}
  quality_monitors:
    events:
      table_name: main.ml.events
      output_schema_name: main.ml
      assets_dir: /Workspace/Shared/monitors/events
      baseline_table_name: main.ml.baseline
      slicing_exprs: [segment]
      time_series: {timestamp_col: ts, granularities: ["1 day"]}
      alerts:
        - name: feature-drift
          metric: population_stability_index
          threshold: 0.1
          drift_type: BASELINE
          run_job_id: ${resources.jobs.retrain.id}
"""

DATA = NB + """
import numpy as np, pandas as pd
import kiln.tables as tables
rng = np.random.default_rng(11)
def sample(n, day, shift=0.0):
    x = rng.normal(shift, 1, n)
    z = rng.normal(5, 2, n)
    return pd.DataFrame({
        "ts": pd.Timestamp("2026-11-01", tz="UTC") + pd.Timedelta(days=day)
              + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
        "x": x, "z": z, "segment": rng.choice(["web", "app"], n),
        "label": (z + rng.normal(0, 1, n) > 5.5).astype("int64")})
tables.write("main.ml.baseline", sample(3000, -7), mode="overwrite")
tables.write("main.ml.events", pd.concat([sample(2000, 0), sample(2000, 1),
                                          sample(2000, 2, shift=2.0)]), mode="overwrite")
"""

TRAIN = NB + """
import mlflow
import kiln.tables as tables
from sklearn.linear_model import LogisticRegression
df = tables.read("main.ml.events")
df = df[df.ts >= df.ts.max().normalize()]  # the newest day: what the model sees now
with mlflow.start_run():
    info = mlflow.sklearn.log_model(LogisticRegression().fit(df[["x", "z"]], df.label),
                                    name="model", input_example=df[["x", "z"]].head(2),
                                    pip_requirements=["scikit-learn"],
                                    registered_model_name="main.ml.churn")
dbutils.jobs.taskValues.set("model_uri", f"models:/main.ml.churn/{info.registered_model_version}")
"""

VALIDATE = NB + """
import kiln.lifecycle as lifecycle
import kiln.tables as tables
df = tables.read("main.ml.events")
lifecycle.validate(dbutils.widgets.get("model_uri"), df[df.ts >= df.ts.max().normalize()],
                   targets="label", thresholds={"roc_auc": {"threshold": 0.7,
                                                            "greater_is_better": True}})
"""


def test_drift_alert_starts_retraining_that_yields_a_challenger(tmp_path: Path) -> None:
    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": BUNDLE, "data.py": DATA,
                                        "train.py": TRAIN, "validate.py": VALIDATE})
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "run", "data", cwd=root)
    got = json.loads(kiln.run("quality-monitors", "get", "main.ml.events", cwd=root).stdout)
    assert got["drift_metrics_table_name"] == "main.ml.events_drift_metrics"

    out = kiln.run("quality-monitors", "refresh", "main.ml.events", cwd=root).stdout
    assert "SUCCESS, 3 window(s) computed" in out
    assert "Alert feature-drift: population_stability_index on x; started run" in out
    run_id = re.search(r"started run (\d+)", out).group(1)

    flagged = kiln.sql(
        "SELECT \"window\".start AS day, column_name, population_stability_index AS psi "
        "FROM main.ml.events_drift_metrics WHERE drift_type = 'BASELINE' "
        "AND slice_key IS NULL AND population_stability_index >= 0.1 ORDER BY 1, 2", root)
    assert [(r["day"][:10], r["column_name"]) for r in flagged] == [("2026-11-03", "x")]
    consecutive = kiln.sql("SELECT count(*) AS n FROM main.ml.events_drift_metrics "
                           "WHERE drift_type = 'CONSECUTIVE' AND slice_key IS NULL", root)
    assert consecutive == [{"n": 2 * 4}]  # day 2 vs 1 and day 3 vs 2, four columns
    slices = kiln.sql("SELECT DISTINCT slice_value FROM main.ml.events_profile_metrics "
                      "WHERE slice_key = 'segment' ORDER BY 1", root)
    assert slices == [{"slice_value": "app"}, {"slice_value": "web"}]
    table_rows = kiln.sql("SELECT sum(count) AS n FROM main.ml.events_profile_metrics "
                          "WHERE column_name = ':table' AND slice_key IS NULL", cwd=root)
    assert table_rows == [{"n": 6000}]

    report = kiln.run("quality-monitors", "report", "main.ml.events", "--out",
                      str(tmp_path / "r.html"), cwd=root)
    page = (tmp_path / "r.html").read_text()
    assert report.returncode == 0 and page.count("data:image/png;base64,") >= 4
    assert "PSI against the baseline" in page

    # the alert's run retrains; its model passes validation and becomes the challenger
    run = kiln.wait_run(run_id, root)
    assert run["state"]["result_state"] == "SUCCESS", run
    models = json.loads(kiln.run("models", "list", "-o", "json", cwd=root).stdout)
    assert models[0]["aliases"] == {"challenger": "1"}

    # a second refresh computes only the newest window again; history has both
    again = kiln.run("quality-monitors", "refresh", "main.ml.events", cwd=root).stdout
    assert "1 window(s) computed" in again
    refreshes = json.loads(kiln.run("quality-monitors", "list-refreshes", "main.ml.events",
                                    cwd=root).stdout)
    assert [r["refresh_id"] for r in refreshes] == [1, 2]
    assert refreshes[0]["alerts"][0]["columns"] == ["x"]
    rows = kiln.sql("SELECT count(*) AS n FROM main.ml.events_drift_metrics "
                    "WHERE drift_type = 'BASELINE' AND slice_key IS NULL", cwd=root)
    assert rows == [{"n": 3 * 4}]  # recomputed windows replace their rows, none doubled


SERVED = """
bundle: {name: loop}
resources:
  schemas:
    ml: {name: ml, catalog_name: main}
  jobs:
    train:
      name: train
      tasks:
        - task_key: train
          notebook_task: {notebook_path: ./train.py}
        - task_key: validate
          depends_on: [{task_key: train}]
          notebook_task:
            notebook_path: ./validate.py
            base_parameters: {model_uri: "{{tasks.train.values.model_uri}}"}
  model_serving_endpoints:
    live:
      name: live
      config:
        served_entities: [{name: champion, entity_name: main.ml.m, entity_alias: champion}]
        auto_capture_config: {catalog_name: main, schema_name: ml, table_name_prefix: live}
  quality_monitors:
    live_requests:
      table_name: main.ml.live_payload_unpacked
      output_schema_name: main.ml
      assets_dir: /Workspace/Shared/monitors/live
      baseline_table_name: main.ml.baseline
      inference_log:
        problem_type: PROBLEM_TYPE_CLASSIFICATION
        timestamp_col: event_time
        model_id_col: model_id
        prediction_col: prediction
        granularities: ["1 day"]
      alerts:
        - {name: drift, metric: population_stability_index, threshold: 0.1,
           run_job_id: "${resources.jobs.train.id}"}
"""

SERVED_TRAIN = NB + """
import mlflow, numpy as np, pandas as pd
import kiln.tables as tables
from mlflow import MlflowClient
rng = np.random.default_rng(5)
n = 3000
base = pd.DataFrame({"x": rng.normal(0, 1, n), "z": rng.normal(5, 2, n)})
base["label"] = (base.z + rng.normal(0, 1, n) > 5.5).astype("int64")
tables.write("main.ml.baseline", base[["x", "z"]], mode="overwrite")
with mlflow.start_run():
    from sklearn.linear_model import LogisticRegression
    info = mlflow.sklearn.log_model(LogisticRegression().fit(base[["z"]], base.label),
                                    name="model", input_example=base[["z"]].head(2),
                                    pip_requirements=["scikit-learn"],
                                    registered_model_name="main.ml.m")
version = info.registered_model_version
if MlflowClient().get_registered_model("main.ml.m").aliases.get("champion") is None:
    MlflowClient().set_registered_model_alias("main.ml.m", "champion", version)
base["label"] = base.label
tables.write("main.ml.labelled", base, mode="overwrite")
dbutils.jobs.taskValues.set("model_uri", f"models:/main.ml.m/{version}")
"""

SERVED_VALIDATE = NB + """
import kiln.lifecycle as lifecycle
import kiln.tables as tables
if dbutils.widgets.get("model_uri").endswith("/1"):
    dbutils.notebook.exit("the first model is the champion")
lifecycle.validate(dbutils.widgets.get("model_uri"), tables.read("main.ml.labelled"),
                   targets="label", baseline_alias=None,
                   thresholds={"roc_auc": {"threshold": 0.7, "greater_is_better": True}})
"""


def test_drift_in_served_traffic_triggers_retraining(tmp_path: Path) -> None:
    import numpy as np

    from tests.e2e.test_serving import Server, token

    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": SERVED, "train.py": SERVED_TRAIN,
                                        "validate.py": SERVED_VALIDATE})
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "run", "train", cwd=root)
    server = Server(kiln, root)
    rng = np.random.default_rng(9)
    import httpx

    with httpx.Client(headers={"Authorization": f"Bearer {token(kiln, root)}"},
                      timeout=30) as http:
        for day in range(3):  # the traffic's own event times: three days, x shifts on day 3
            for _ in range(30):
                rows = [{"x": float(rng.normal(2.0 if day == 2 else 0.0, 1)),
                         "z": float(rng.normal(5, 2)),
                         "event_time": f"2026-11-0{day + 1}T{rng.integers(0, 24):02d}:00:00Z"}
                        for _ in range(20)]
                r = http.post(f"{server.url}/serving-endpoints/live/invocations",
                              json={"dataframe_records": rows})
                assert r.status_code == 200, r.text
    assert server.stop() == 0
    out = kiln.run("quality-monitors", "refresh", "main.ml.live_payload_unpacked",
                   cwd=root).stdout
    assert "SUCCESS, 3 window(s) computed" in out
    assert "Alert drift: population_stability_index on x; started run" in out, out
    flagged = kiln.sql("SELECT column_name, max(population_stability_index) AS psi "
                       "FROM main.ml.live_payload_unpacked_drift_metrics "
                       "WHERE drift_type = 'BASELINE' AND model_id = ':all' "
                       "AND slice_key IS NULL GROUP BY 1 ORDER BY 1", cwd=root)
    assert [r["column_name"] for r in flagged] == ["x", "z"]  # the baseline's columns
    assert [r["column_name"] for r in flagged if r["psi"] >= 0.1] == ["x"]
    run_id = re.search(r"started run (\d+)", out).group(1)
    run = kiln.wait_run(run_id, root)
    assert run["state"]["result_state"] == "SUCCESS", run
    models = json.loads(kiln.run("models", "list", "-o", "json", cwd=root).stdout)
    assert models[0]["aliases"] == {"champion": "1", "challenger": "2"}


def test_drift_on_files_flags_the_drifted_columns(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    n = 4000
    days = pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 2, n),
                                                                  unit="D")
    table = pd.DataFrame({"ts": days, "a": rng.normal(0.8, 1, n), "b": rng.normal(0, 1, n),
                          "c": rng.choice(["x", "y"], n)})
    base = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(0, 1, n),
                         "c": rng.choice(["x", "y"], n)})
    table.to_parquet(tmp_path / "t.parquet")
    base.to_parquet(tmp_path / "b.parquet")
    kiln = Kiln(tmp_path / "home")
    out = kiln.run("quality-monitors", "drift", "--table", str(tmp_path / "t.parquet"),
                   "--baseline", str(tmp_path / "b.parquet"), "--timestamp-col", "ts",
                   "--out", str(tmp_path / "out"), cwd=tmp_path).stdout
    assert out.endswith("against the baseline): a\n"), out
    from deltalake import DeltaTable

    drift = DeltaTable(str(tmp_path / "out" / "drift_metrics")).to_pandas()
    assert set(drift.drift_type) == {"BASELINE", "CONSECUTIVE"} and len(drift) == 3 * 3
    bad = kiln.run("quality-monitors", "drift", "--table", str(tmp_path / "nope"),
                   "--timestamp-col", "ts", "--out", str(tmp_path / "o2"), cwd=tmp_path,
                   ok=False)
    assert bad.returncode == 1 and "does not exist" in bad.stderr
