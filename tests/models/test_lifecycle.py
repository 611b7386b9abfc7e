"""The registry rules, validation, approvals and promotion on real MLflow stores in real
embedded workspaces (in process: each test has its own workspaces)."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from kiln.errors import KilnError
from kiln.models import approvals, cards
from kiln.models.lifecycle import ValidationFailed, deploy, validate
from kiln.models.promotion import promote
from kiln.models.registry import Registry
from kiln.models.store import ensure_store, mlflow_env
from kiln.workspace.local.workspace import LocalWorkspace

NAME = "main.ml.churn"
AUC = {"roc_auc": {"threshold": 0.6, "min_absolute_change": 0.01, "greater_is_better": True}}


def data(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"f1": rng.normal(size=n), "f2": rng.normal(size=n)})
    X["label"] = (rng.random(n) < 1 / (1 + np.exp(-(2 * X.f1 + X.f2)))).astype("int64")
    return X


def bind(ws: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_store(ws.directory)
    for key, value in mlflow_env(ws.directory).items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(mlflow_env(ws.directory)["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(mlflow_env(ws.directory)["MLFLOW_REGISTRY_URI"])


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    ws = LocalWorkspace("dev", str(tmp_path / "dev"), "alice")
    bind(ws, monkeypatch)
    return Registry(ws)


@pytest.fixture
def prod(tmp_path: Path) -> Registry:
    ws = LocalWorkspace("prod", str(tmp_path / "prod"), "alice")
    ensure_store(ws.directory)
    reg = Registry(ws)
    reg.set_required_approvals({"champion"})
    return reg


def train(features: list[str], shuffle: bool = False) -> str:
    from sklearn.linear_model import LogisticRegression

    df = data()
    y = df.label.sample(frac=1, random_state=1).values if shuffle else df.label
    with mlflow.start_run():
        model = LogisticRegression().fit(df[features], y)
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=NAME,
                                        input_example=df[features].head(2),
                                        pip_requirements=["scikit-learn"])
    return str(info.registered_model_version)


def audit_count(reg: Registry) -> int:
    return len(reg.ws.audit_log(limit=10000))


def test_first_model_meets_absolute_thresholds_and_becomes_champion(dev: Registry) -> None:
    v1 = train(["f1"])
    result = validate(f"models:/{NAME}/{v1}", data(seed=1), "label", thresholds=AUC,
                      registry=dev)
    assert result.passed and result.baseline_version is None and result.metrics["roc_auc"] > .6
    assert dev.model(NAME).aliases == {"challenger": int(v1)}
    assert deploy(NAME, v1, registry=dev) is None
    assert dev.model(NAME).aliases == {"champion": int(v1)}  # challenger removed
    tags = dev.version(NAME, v1).tags
    assert tags["kiln.validation.status"] == "passed" and tags["kiln.deployed_by"] == "alice"


def test_a_worse_model_fails_and_changes_no_alias(dev: Registry) -> None:
    v1 = train(["f1", "f2"])
    validate(f"models:/{NAME}/{v1}", data(seed=1), "label", thresholds=AUC, registry=dev)
    deploy(NAME, v1, registry=dev)
    v2 = train(["f1", "f2"], shuffle=True)
    with pytest.raises(ValidationFailed, match=f"version {v2} of {NAME} failed validation.*"
                                               "roc_auc"):
        validate(f"models:/{NAME}@latest".replace("@latest", f"/{v2}"), data(seed=1), "label",
                 thresholds=AUC, registry=dev)
    assert dev.model(NAME).aliases == {"champion": int(v1)}
    tags = dev.version(NAME, v2).tags
    assert tags["kiln.validation.status"] == "failed"
    assert tags["kiln.validation.baseline_version"] == v1
    # refusal: an unvalidated (failed) version cannot be deployed, and nothing moves
    before = audit_count(dev)
    with pytest.raises(KilnError, match=f"version {v2} of {NAME} has not passed validation "
                                        r"\(status: failed\); refusing to make it @champion"):
        deploy(NAME, v2, registry=dev)
    assert dev.model(NAME).aliases == {"champion": int(v1)} and audit_count(dev) == before
    # forcing is possible and recorded
    assert deploy(NAME, v2, force=True, reason="hotfix", registry=dev) == v1
    assert dev.version(NAME, v2).tags["kiln.deploy_forced"] == "true"
    assert dev.ws.audit_log(limit=1)[0]["detail"]["reason"] == "hotfix"


def test_run_modes(dev: Registry) -> None:
    v1 = train(["f1"], shuffle=True)
    dry = validate(f"models:/{NAME}/{v1}", data(seed=1), "label", thresholds=AUC,
                   run_mode="dry_run", registry=dev)
    assert dry.status == "failed" and dev.model(NAME).aliases == {}  # reported, not raised
    off = validate(f"models:/{NAME}/{v1}", data(seed=1), "label", thresholds=AUC,
                   run_mode="disabled", registry=dev)
    assert off.status == "disabled" and off.metrics == {}
    with pytest.raises(KilnError, match="has not passed validation .status: disabled"):
        deploy(NAME, v1, registry=dev)
    with pytest.raises(KilnError, match="run_mode must be one of disabled, dry_run, enabled"):
        validate(f"models:/{NAME}/{v1}", data(), "label", run_mode="on", registry=dev)


def test_bad_inputs_are_clear_errors(dev: Registry) -> None:
    v1 = train(["f1"])
    with pytest.raises(KilnError, match="invalid registered model name 'churn'"):
        dev.model("churn")
    with pytest.raises(KilnError, match="invalid registered model name"):
        dev.model("main.ml.churn'; DROP TABLE x --")
    with pytest.raises(KilnError, match="registered model main.ml.nope does not exist"):
        dev.model("main.ml.nope")
    with pytest.raises(KilnError, match=f"version 9 of {NAME} does not exist"):
        dev.version(NAME, 9)
    with pytest.raises(KilnError, match="invalid alias 'v2'"):
        dev.set_alias(NAME, "v2", v1)
    with pytest.raises(KilnError, match="invalid model URI 'runs:/abc'"):
        validate("runs:/abc", data(), "label", registry=dev)
    with pytest.raises(KilnError, match="no target column 'churn'"):
        validate(f"models:/{NAME}/{v1}", data(), "churn", registry=dev)
    with pytest.raises(KilnError, match="invalid threshold for roc_auc"):
        validate(f"models:/{NAME}/{v1}", data(), "label",
                 thresholds={"roc_auc": {"min_absolute_change": -1}}, registry=dev)
    with pytest.raises(KilnError, match="lacks the model's input columns f1"):
        validate(f"models:/{NAME}/{v1}", data().drop(columns=["f1"]), "label", registry=dev)
    assert dev.version(NAME, v1).tags.get("kiln.validation.status") is None


def test_approvals_gate_aliases_and_promotion(dev: Registry, prod: Registry) -> None:
    v1 = train(["f1", "f2"])
    validate(f"models:/{NAME}/{v1}", data(seed=1), "label", thresholds=AUC, registry=dev)
    # refusal: promotion into a workspace that requires approval, nothing created there
    before = audit_count(prod)
    with pytest.raises(KilnError, match="workspace prod requires an approval before @champion "
                                        f"moves, and version {v1} of {NAME} in dev is not "
                                        "approved; nothing was promoted"):
        promote(dev, prod, NAME, v1)
    assert prod.models() == [] and audit_count(prod) == before
    # approval steps: a decision needs a request; a rejection needs a reason
    with pytest.raises(KilnError, match="has no pending approval request"):
        approvals.decide(dev, NAME, v1, True)
    approvals.request(dev, NAME, v1, "please")
    with pytest.raises(KilnError, match="already has a pending approval request"):
        approvals.request(dev, NAME, v1)
    with pytest.raises(KilnError, match="a rejection needs a comment"):
        approvals.decide(dev, NAME, v1, False)
    approvals.decide(dev, NAME, v1, False, "AUC on the EU slice is too low")
    with pytest.raises(KilnError, match="not approved|is rejected"):
        promote(dev, prod, NAME, v1)
    approvals.request(dev, NAME, v1, "fixed the slice")
    approvals.decide(dev, NAME, v1, True, "ok")
    copy = promote(dev, prod, NAME, v1, comment="release 1")
    assert prod.model(NAME).aliases == {"champion": int(copy.version)}
    assert copy.tags["kiln.promoted_from"] == f"dev:{NAME}:{v1}"
    assert [h["action"] for h in approvals.history(copy)] == \
        ["requested", "rejected", "requested", "approved"]
    # the copy carries the artifacts: it loads and predicts like the source
    X = data(seed=5)[["f1", "f2"]]
    src = mlflow.pyfunc.load_model(f"models:/{NAME}/{v1}").predict(X)
    mlflow.set_registry_uri(mlflow_env(prod.ws.directory)["MLFLOW_REGISTRY_URI"])
    mlflow.set_tracking_uri(mlflow_env(prod.ws.directory)["MLFLOW_TRACKING_URI"])
    dst = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    assert list(dst.predict(X)) == list(src)
    assert dst.metadata.signature is not None
    # refusal: in prod an unapproved version cannot take the champion alias directly
    prod.client.create_model_version(NAME, source=copy.source, run_id=copy.run_id)
    with pytest.raises(KilnError, match="workspace prod requires an approval before @champion"):
        prod.set_alias(NAME, "champion", "2")
    assert prod.model(NAME).aliases == {"champion": int(copy.version)}
    card = cards.to_markdown(cards.build(prod, NAME, copy.version))
    assert "release 1" in card and "AUC on the EU slice is too low" in card


def test_concurrent_alias_moves_are_serialized(dev: Registry) -> None:
    """Threads moving the champion alias at once: each move sees the previous one."""
    from concurrent.futures import ThreadPoolExecutor

    versions = [train(["f1"]) for _ in range(2)]

    def move(i: int) -> None:
        deploy(NAME, versions[i % 2], force=True, reason=f"move {i}",
               registry=Registry(dev.ws))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(move, range(12)))
    moves = [e["detail"] for e in reversed(dev.ws.audit_log(limit=1000))
             if e["action"] == "models.set_alias" and e["detail"]["alias"] == "champion"]
    assert len(moves) == 12
    assert all(b["previous"] == a["version"] for a, b in zip(moves, moves[1:]))
    assert dev.model(NAME).aliases == {"champion": int(moves[-1]["version"])}
    assert json.loads(json.dumps(moves))  # plain data in the audit log


def test_the_serving_policy_covers_every_alias_an_endpoint_follows(dev: Registry) -> None:
    v1 = train(["f1"])
    dev.ws.create("model_serving_endpoints", "churn-dev", {"name": "churn-dev", "config": {
        "served_entities": [{"entity_name": NAME, "entity_alias": "champion"}]}})
    assert dev.endpoints_following(NAME, "champion") == ["churn-dev"]
    assert dev.endpoints_following(NAME, "challenger") == []
    dev.set_alias(NAME, "champion", v1)  # no policy: allowed (the CLI warns)
    dev.set_required_approvals({"serving"})
    with pytest.raises(KilnError, match="requires an approval before @champion moves"):
        dev.set_alias(NAME, "champion", v1)
    dev.set_alias(NAME, "challenger", v1)  # no endpoint follows it
    approvals.request(dev, NAME, v1, "ship it")
    approvals.decide(dev, NAME, v1, True, "ok")
    dev.set_alias(NAME, "champion", v1)
