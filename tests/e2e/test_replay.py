"""Shadow replay: a challenger that disagrees with the champion on one slice of the traffic
an endpoint captured. The report names that slice, the model card shows it, and an
approval rule on agreement refuses the challenger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOK_HEADER as NB, write_files
from tests.e2e.helpers import Kiln

pytestmark = pytest.mark.e2e

BUNDLE = """
bundle: {name: shadow}
resources:
  schemas:
    ml: {name: ml, catalog_name: main}
  jobs:
    train:
      name: train
      parameters: [{name: flip, default: ""}]
      tasks: [{task_key: train, notebook_task: {notebook_path: ./train.py}}]
  model_serving_endpoints:
    live:
      name: live
      config:
        served_entities: [{name: champion, entity_name: main.ml.m, entity_alias: champion}]
        auto_capture_config: {catalog_name: main, schema_name: ml, table_name_prefix: live}
"""

# a rule model: churn when x > 0; the "flip" variant answers the opposite on one segment
TRAIN = NB + """
import mlflow, numpy as np, pandas as pd
from mlflow import MlflowClient
flip = dbutils.widgets.get("flip")
class Rule(mlflow.pyfunc.PythonModel):
    def __init__(self, flip):
        self.flip = flip
    def predict(self, context, model_input, params=None):
        out = (model_input["x"].to_numpy() > 0).astype("int64")
        if self.flip:
            out = np.where(model_input["segment"].to_numpy() == self.flip, 1 - out, out)
        return out
example = pd.DataFrame({"x": [0.5, -1.0], "segment": ["web", "app"]})
with mlflow.start_run():
    info = mlflow.pyfunc.log_model(name="model", python_model=Rule(flip),
                                   input_example=example, pip_requirements=["pandas"],
                                   registered_model_name="main.ml.m")
if not flip:
    MlflowClient().set_registered_model_alias("main.ml.m", "champion",
                                              info.registered_model_version)
"""


def test_replay_names_the_disagreeing_slice_and_the_rule_refuses(tmp_path: Path,
                                                                  monkeypatch) -> None:
    import httpx
    import numpy as np

    from tests.e2e.test_serving import Server, token

    kiln = Kiln(tmp_path / "home")
    root = write_files(tmp_path / "b", {"databricks.yml": BUNDLE, "train.py": TRAIN})
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "run", "train", cwd=root)
    kiln.run("bundle", "run", "train", "--params", "flip=app", cwd=root)

    server = Server(kiln, root)
    rng = np.random.default_rng(4)
    labels = []
    with httpx.Client(headers={"Authorization": f"Bearer {token(kiln, root)}"},
                      timeout=30) as http:
        for i in range(300):
            x, segment = float(rng.normal()), str(rng.choice(["web", "app", "ios"]))
            r = http.post(f"{server.url}/serving-endpoints/live/invocations",
                          json={"dataframe_records": [{"x": x, "segment": segment}],
                                "client_request_id": f"req-{i}"})
            assert r.status_code == 200, r.text
            labels.append({"client_request_id": f"req-{i}", "label": int(x > 0)})
    assert server.stop() == 0

    # the labels arrive later, in a table of their own
    import pandas as pd

    from kiln.catalog.tables import Catalog
    from kiln.cli.workspaces import open_where

    monkeypatch.chdir(root)
    for k, v in kiln.env().items():
        monkeypatch.setenv(k, v)
    Catalog(open_where(None, None)).write("main.ml.labels", pd.DataFrame(labels))

    out = kiln.run("models", "replay", "main.ml.m", "--version", "2", "--endpoint", "live",
                   "--labels", "main.ml.labels", "--since", "1h", cwd=root).stdout
    assert "Replay of main.ml.m v2 on 300 captured rows (300 requests) of endpoint live" in out
    agreement = float(out.split("agreement with what was served: ")[1].split()[0])
    assert 0.55 < agreement < 0.8, out
    worst = out.split("slices where they disagree most:\n")[1].splitlines()[0]
    assert worst.strip().startswith("segment = app: agreement 0.000 over"), out
    assert "quality on 300 labelled rows (accuracy): candidate" in out and "(worse)" in out

    doc = json.loads(kiln.run("models", "replay", "main.ml.m", "--version", "@champion",
                              "--endpoint", "live", "-o", "json", cwd=root).stdout)
    assert doc["agreement"] == 1.0 and doc["worst_slices"] == []  # the champion agrees

    kiln.run("models", "policy", "--replay-min-agreement", "0.95", cwd=root)
    kiln.run("models", "request-approval", "main.ml.m", "--version", "2", cwd=root)
    refused = kiln.run("models", "approve", "main.ml.m", "--version", "2", cwd=root, ok=False)
    assert refused.returncode == 1, refused.stdout
    assert "replay agreement" in refused.stderr and "below the approval rule's 0.95" in \
        refused.stderr and "its quality is worse than what was served" in refused.stderr
    assert "disagrees most where segment = app" in refused.stderr
    status = json.loads(kiln.run("models", "versions", "main.ml.m", "-o", "json",
                                 cwd=root).stdout)
    assert status[1]["tags"].get("kiln.approval.status") == "pending"  # nothing half-done

    card = kiln.run("models", "card", "main.ml.m", "--version", "2", cwd=root).stdout
    assert "Shadow replay" in card and "segment = app: agreement 0.000" in card

    bad = kiln.run("models", "replay", "main.ml.m", "--version", "2", "--endpoint", "live",
                   "--since", "3 weeks", cwd=root, ok=False)
    assert bad.returncode == 1 and "--since '3 weeks': use a number and a unit" in bad.stderr
    nope = kiln.run("models", "replay", "main.ml.m", "--version", "2", "--endpoint", "nope",
                    cwd=root, ok=False)
    assert nope.returncode == 1 and "nope" in nope.stderr
