"""The champion/challenger lifecycle end to end: jobs train on Delta tables, validate,
deploy; a version is approved and promoted from dev to prod, with real MLflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NOTEBOOK_HEADER as NB, write_files
from tests.e2e.helpers import Kiln

pytestmark = pytest.mark.e2e

BUNDLE = """
bundle: {name: churn}
variables:
  catalog: {default: dev}
targets:
  dev: {default: true}
  prod: {variables: {catalog: prod}}
resources:
  schemas:
    ml: {name: ml, catalog_name: "${var.catalog}"}
  registered_models:
    model:
      name: churn
      catalog_name: "${var.catalog}"
      schema_name: ml
      comment: Churn risk per customer.
      grants: [{principal: data-scientists, privileges: [EXECUTE]}]
  experiments:
    exp: {name: "/Shared/churn-${bundle.target}"}
  jobs:
    data:
      name: data
      tasks: [{task_key: make, notebook_task: {notebook_path: ./data.py}}]
    train:
      name: train
      parameters:
        - {name: catalog, default: "${var.catalog}"}
        - {name: quality, default: good}
        - {name: auto_deploy, default: "false"}
      tasks:
        - task_key: train
          notebook_task: {notebook_path: ./train.py}
        - task_key: validate
          depends_on: [{task_key: train}]
          notebook_task:
            notebook_path: ./validate.py
            base_parameters: {model_uri: "{{tasks.train.values.model_uri}}"}
        - task_key: deploy
          depends_on: [{task_key: validate}]
          condition_task: {op: EQUAL_TO, left: "{{job.parameters.auto_deploy}}", right: "true"}
        - task_key: make_champion
          depends_on: [{task_key: deploy, outcome: "true"}]
          notebook_task:
            notebook_path: ./deploy.py
            base_parameters: {version: "{{tasks.train.values.version}}"}
"""

DATA = NB + """
import numpy as np, pandas as pd
import kiln.tables as tables
rng = np.random.default_rng(7)
n = 1500
X = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(1, 5)})
logit = 1.2 * X.f1 + 1.0 * X.f2 - 0.8 * X.f3 + 0.5 * X.f4
X["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
X["customer_id"] = np.arange(n)
tables.write("dev.ml.customers", X.iloc[:1000], mode="overwrite")
tables.write("dev.ml.holdout", X.iloc[1000:], mode="overwrite")
"""

TRAIN = NB + """
import mlflow
import kiln.tables as tables
from sklearn.linear_model import LogisticRegression
catalog = dbutils.widgets.get("catalog")
quality = dbutils.widgets.get("quality")
df = tables.read("dev.ml.customers")
features = {"weak": ["f1"], "shuffled": ["f1", "f2", "f3", "f4"],
            "good": ["f1", "f2", "f3", "f4"]}[quality]
y = df.churned.sample(frac=1, random_state=1).values if quality == "shuffled" else df.churned
mlflow.set_experiment(f"/Shared/churn-dev")
with mlflow.start_run():
    mlflow.set_tag("governance.owner", "churn-team@example.com")
    mlflow.set_tag("governance.use_case", "Rank customers by churn risk")
    model = LogisticRegression().fit(df[features], y)
    mlflow.log_param("quality", quality)
    mlflow.log_metric("train_accuracy", model.score(df[features], df.churned))
    info = mlflow.sklearn.log_model(model, name="model", input_example=df[features].head(3),
                                    pip_requirements=["scikit-learn"],
                                    registered_model_name=f"{catalog}.ml.churn")
version = str(info.registered_model_version)
dbutils.jobs.taskValues.set("model_uri", f"models:/{catalog}.ml.churn/{version}")
dbutils.jobs.taskValues.set("version", version)
"""

VALIDATE = NB + """
import kiln.lifecycle as lifecycle
result = lifecycle.validate(
    dbutils.widgets.get("model_uri"), "dev.ml.holdout", targets="churned",
    model_type="classifier",
    thresholds={"roc_auc": {"threshold": 0.6, "min_absolute_change": 0.01,
                            "greater_is_better": True}})
print("validation", result.status, result.metrics["roc_auc"])
"""

DEPLOY = NB + """
import kiln.lifecycle as lifecycle
print("previous champion", lifecycle.deploy(f"{dbutils.widgets.get('catalog')}.ml.churn",
                                            dbutils.widgets.get("version"), reason="first model"))
"""


@pytest.fixture
def kiln(tmp_path: Path) -> Kiln:
    return Kiln(tmp_path / "home")


def churn_bundle(root: Path) -> Path:
    return write_files(root, {"databricks.yml": BUNDLE, "data.py": DATA, "train.py": TRAIN,
                              "validate.py": VALIDATE, "deploy.py": DEPLOY})


def aliases(kiln: Kiln, root: Path, name: str, target: str | None = "dev") -> dict[str, str]:
    where = ("-t", target) if target else ()
    out = kiln.run("models", "list", *where, "-o", "json", cwd=root).stdout
    return next(m["aliases"] for m in json.loads(out) if m["name"] == name)


def versions(kiln: Kiln, root: Path, name: str, target: str = "dev") -> list[dict]:
    out = kiln.run("models", "versions", name, "-t", target, "-o", "json", cwd=root).stdout
    return json.loads(out)


def predict(kiln: Kiln, root: Path, target: str, uri: str) -> list[int]:
    """Load a model by URI in a plain Python session bound with `kiln env -t TARGET`."""
    env_lines = kiln.run("env", "-t", target, cwd=root).stdout
    code = ("import json, mlflow, numpy as np, pandas as pd\n"
            "rng = np.random.default_rng(3)\n"
            "X = pd.DataFrame({f'f{i}': rng.normal(size=50) for i in range(1, 5)})\n"
            f"print(json.dumps([int(p) for p in mlflow.pyfunc.load_model({uri!r}).predict(X)]))\n")
    script = env_lines + f"{sys.executable} -c \"$CODE\"\n"
    proc = subprocess.run(["bash", "-c", script], env={**kiln.env(), "CODE": code}, cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_champion_challenger_approval_and_promotion(kiln: Kiln, tmp_path: Path) -> None:
    root = churn_bundle(tmp_path / "b")
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "deploy", "-t", "prod", cwd=root)
    kiln.run("models", "policy", "-t", "prod", "--require-approval", "champion", cwd=root)
    # deployed resources are MLflow objects in each workspace
    assert "/Shared/churn-dev" in kiln.run("experiments", "list", "-t", "dev", cwd=root).stdout
    assert "/Shared/churn-prod" in kiln.run("experiments", "list", "-t", "prod", cwd=root).stdout
    got = json.loads(kiln.run("models", "get", "prod.ml.churn", "-t", "prod", cwd=root).stdout)
    assert got["description"] == "Churn risk per customer." and got["versions"] == 0
    assert got["grants"] == [{"principal": "data-scientists", "privileges": ["EXECUTE"]}]

    kiln.run("bundle", "run", "data", cwd=root)
    # 1: the first model passes the absolute threshold and becomes champion
    kiln.run("bundle", "run", "train", "--params", "quality=weak,auto_deploy=true", cwd=root)
    assert aliases(kiln, root, "dev.ml.churn") == {"champion": "1"}
    # 2: a worse model fails validation: the task fails, it gets no alias
    bad = kiln.run("bundle", "run", "train", "--params", "quality=shuffled,auto_deploy=true",
                   cwd=root, ok=False)
    assert bad.returncode == 1 and "failed validation" in bad.stdout + bad.stderr
    assert aliases(kiln, root, "dev.ml.churn") == {"champion": "1"}
    v2 = versions(kiln, root, "dev.ml.churn")[1]
    assert v2["tags"]["kiln.validation.status"] == "failed" and v2["aliases"] == []
    # refusals through the CLI: clear errors, exit 1, nothing moved
    unvalidated = kiln.run("models", "deploy", "dev.ml.churn", "--version", "2", cwd=root,
                           ok=False)
    assert unvalidated.returncode == 1 and unvalidated.stderr.startswith(
        "Error: version 2 of dev.ml.churn has not passed validation (status: failed)")
    bad_name = kiln.run("models", "get", "churn", cwd=root, ok=False)
    assert bad_name.returncode == 1 and "invalid registered model name 'churn'" in bad_name.stderr
    assert aliases(kiln, root, "dev.ml.churn") == {"champion": "1"}
    # 3: a better model becomes challenger (not champion: it waits for approval)
    kiln.run("bundle", "run", "train", "--params", "quality=good", cwd=root)
    assert aliases(kiln, root, "dev.ml.churn") == {"champion": "1", "challenger": "3"}
    v3 = versions(kiln, root, "dev.ml.churn")[2]
    metrics = json.loads(v3["tags"]["kiln.validation.metrics"])
    assert v3["tags"]["kiln.validation.baseline_version"] == "1" and metrics["roc_auc"] > 0.75

    # promotion without an approval is refused, and prod is untouched
    refused = kiln.run("models", "promote", "dev.ml.churn", "--version", "3", "--from", "dev",
                       "--to", "prod", "--to-name", "prod.ml.churn", cwd=root, ok=False)
    assert refused.returncode == 1
    assert "requires an approval before @champion moves" in refused.stderr
    assert versions(kiln, root, "prod.ml.churn", "prod") == []

    kiln.run("models", "request-approval", "dev.ml.churn", "--version", "3",
             "--comment", "better AUC", cwd=root)
    kiln.run("models", "approve", "dev.ml.churn", "--version", "3", "--comment", "ok",
             cwd=root, KILN_USER="bob@example.com")
    out = kiln.run("models", "promote", "dev.ml.churn", "--version", "3", "--from", "dev",
                   "--to", "prod", "--to-name", "prod.ml.churn", cwd=root).stdout
    assert "prod.ml.churn v1 @champion (prod)" in out
    # promoting again reuses the copy
    kiln.run("models", "promote", "dev.ml.churn", "--version", "3", "--from", "dev",
             "--to", "prod", "--to-name", "prod.ml.churn", cwd=root)
    assert [v["version"] for v in versions(kiln, root, "prod.ml.churn", "prod")] == ["1"]
    assert aliases(kiln, root, "prod.ml.churn", "prod") == {"champion": "1"}

    # prod's champion predicts what dev's challenger predicts
    dev_pred = predict(kiln, root, "dev", "models:/dev.ml.churn@challenger")
    prod_pred = predict(kiln, root, "prod", "models:/prod.ml.churn@champion")
    assert dev_pred == prod_pred and len(set(dev_pred)) == 2

    # the model card carries governance, validation, data, approvals and alias history
    card = kiln.run("models", "card", "prod.ml.churn", "-t", "prod", cwd=root).stdout
    assert "churn-team@example.com" in card and "Rank customers by churn risk" in card
    assert "dev:dev.ml.customers" in card and "bob@example.com" in card
    assert "passed" in card and "promoted from dev" in card.lower()
    html = kiln.run("models", "card", "prod.ml.churn", "-t", "prod", "-o", "html",
                    cwd=root).stdout
    assert html.startswith("<!doctype html>") and "<h2>Approvals</h2>" in html

    # lineage: table version -> training task -> model version
    lin = json.loads(kiln.run("lineage", "dev.ml.customers", "-o", "json", cwd=root).stdout)
    targets = {e["target"] for e in lin["downstream"]}
    assert {"model dev.ml.churn v1", "model dev.ml.churn v3"} <= targets
    up = json.loads(kiln.run("lineage", "dev.ml.churn", "-o", "json", cwd=root).stdout)
    assert any(e["source"] == "table dev.ml.customers@0" and e["target"] == "model dev.ml.churn v3"
               for e in up["upstream"])
    assert any(e["target"].startswith("prod:prod.ml.churn:1") for e in up["downstream"])

    # the audit log has every alias move, approval and promotion
    audit = kiln.run("audit", "list", "-o", "json", "-w", "prod", cwd=root).stdout
    actions = [e["action"] for e in json.loads(audit)]
    assert "models.promote" in actions and "models.set_alias" in actions
    dev_audit = [e["action"] for e in json.loads(
        kiln.run("audit", "list", "-o", "json", "-w", "dev", cwd=root).stdout)]
    assert {"models.approval.requested", "models.approval.approved", "models.validate",
            "grants.update", "bundle.deploy"} <= set(dev_audit)


CONCURRENT = """
bundle: {name: busy}
resources:
  schemas:
    ml: {name: ml, catalog_name: main}
  jobs:
    seed:
      name: seed
      tasks: [{task_key: seed, notebook_task: {notebook_path: ./seed.py}}]
    a:
      name: a
      tasks: [{task_key: work, notebook_task: {notebook_path: ./work.py,
                                               base_parameters: {who: a}}}]
    b:
      name: b
      tasks: [{task_key: work, notebook_task: {notebook_path: ./work.py,
                                               base_parameters: {who: b}}}]
"""

SEED = NB + """
import mlflow, pandas as pd
import kiln.tables as tables
from sklearn.dummy import DummyClassifier
tables.write("main.ml.events", pd.DataFrame({"who": ["seed"], "i": [0]}))
for _ in range(2):
    with mlflow.start_run():
        mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="m",
                                 pip_requirements=["scikit-learn"],
                                 registered_model_name="main.ml.m")
"""

WORK = NB + """
import pandas as pd
import kiln.lifecycle as lifecycle
import kiln.tables as tables
who = dbutils.widgets.get("who")
for i in range(15):
    tables.write("main.ml.events", pd.DataFrame({"who": [who] * 3, "i": [i] * 3}))
    lifecycle.deploy("main.ml.m", 1 if (i + (who == "b")) % 2 else 2, force=True,
                     reason=f"{who} {i}")
"""


def test_two_jobs_write_one_table_and_move_aliases_at_once(kiln: Kiln, tmp_path: Path) -> None:
    root = write_files(tmp_path / "b", {"databricks.yml": CONCURRENT, "seed.py": SEED,
                                        "work.py": WORK})
    kiln.run("bundle", "deploy", cwd=root)
    kiln.run("bundle", "run", "seed", cwd=root)
    procs = [kiln.popen("bundle", "run", job, cwd=root) for job in ("a", "b")]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
    history = kiln.run("tables", "history", "main.ml.events", cwd=root).stdout.splitlines()[1:]
    assert sorted(int(line.split()[0]) for line in history) == list(range(31))
    rows = kiln.sql("SELECT who, count(*) AS n, count(DISTINCT i) AS d "
                    "FROM main.ml.events GROUP BY who ORDER BY who", cwd=root)
    assert rows == [{"who": "a", "n": 45, "d": 15}, {"who": "b", "n": 45, "d": 15},
                    {"who": "seed", "n": 1, "d": 1}]
    moves = [e["detail"] for e in reversed(json.loads(kiln.run(
        "audit", "list", "--limit", "1000", "-o", "json", cwd=root).stdout))
        if e["action"] == "models.set_alias"]
    assert len(moves) == 30
    assert all(b["previous"] == a["version"] for a, b in zip(moves, moves[1:]))
    assert aliases(kiln, root, "main.ml.m", None) == {"champion": moves[-1]["version"]}
