"""kiln's FeatureEngineeringClient on a real workspace: feature tables with keys, upserts,
point-in-time training sets, tags, and refusals that name what is wrong."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from kiln.errors import KilnError, NotFound
from kiln.features.client import FeatureLookup

from tests.features.conftest import T, make_tables


def test_feature_tables_keep_their_keys_description_and_tags(fe) -> None:  # type: ignore[no-untyped-def]
    client, ws = fe
    make_tables(client)
    t = client.get_table(name="main.fs.spend")
    assert (t.primary_keys, t.timeseries_keys, t.features) == (["customer_id"], ["ts"],
                                                               ["spend_7d"])
    settings = ws.get("tables", "main.fs.customers").settings  # what kiln tables get shows
    assert settings["primary_keys"] == ["customer_id"] and settings["tags"] == {"team": "churn"}
    client.set_feature_table_tag(name="main.fs.customers", key="pii", value="no")
    client.delete_feature_table_tag(name="main.fs.customers", key="team")
    assert client.get_table(name="main.fs.customers").tags == {"pii": "no"}
    assert client.get_table(name="main.fs.customers").description == "who they are"


def test_write_table_upserts_by_primary_key(fe) -> None:  # type: ignore[no-untyped-def]
    client, _ = fe
    make_tables(client)
    client.write_table(name="main.fs.customers", df=pd.DataFrame({
        "customer_id": [2, 4], "age": [46, 60], "plan": ["pro", "basic"]}))
    got = client.read_table(name="main.fs.customers").sort_values("customer_id")
    assert got["age"].tolist() == [31, 46, 27, 60]
    client.write_table(name="main.fs.customers", mode="overwrite", df=pd.DataFrame({
        "customer_id": [9], "age": [1], "plan": ["x"]}))
    assert client.read_table(name="main.fs.customers")["customer_id"].tolist() == [9]


def test_a_training_set_looks_features_up_at_each_rows_time(fe) -> None:  # type: ignore[no-untyped-def]
    client, _ = fe
    make_tables(client)
    labels = pd.DataFrame({"customer_id": [1, 1, 2, 3, 2],
                           "at": [T + pd.Timedelta(days=d) for d in (1, 3, 4, 1, 20)],
                           "churned": [0, 1, 0, 1, 1]})
    ts = client.create_training_set(df=labels, label="churned", exclude_columns=["at"],
                                    feature_lookups=[
        FeatureLookup("main.fs.customers", "customer_id", feature_names=["age"],
                      rename_outputs={"age": "customer_age"}),
        FeatureLookup("main.fs.spend", "customer_id", timestamp_lookup_key="at",
                      lookback_window=timedelta(days=10), default_values={"spend_7d": 0.0})])
    got = ts.load_df()
    assert list(got.columns) == ["customer_id", "churned", "customer_age", "spend_7d"]
    # day 1: the day-0 row (not day 2's); day 3: day 2's; customer 2 on day 4: day 0's
    # (day 5 is later); customer 3: no spend rows; day 20: day 5's is 15 days old
    assert got["spend_7d"].tolist() == [10.0, 30.0, 5.0, 0.0, 0.0]
    assert got["customer_age"].tolist() == [31, 31, 45, 27, 45]
    assert got["churned"].tolist() == [0, 1, 0, 1, 1]


def test_refusals_name_the_thing(fe) -> None:  # type: ignore[no-untyped-def]
    client, _ = fe
    make_tables(client)
    labels = pd.DataFrame({"cid": [1], "y": [0]})
    with pytest.raises(KilnError, match="lookup key 'customer_id' of the lookup on "
                                        "main.fs.customers is not a column"):
        client.create_training_set(df=labels, label="y", feature_lookups=[
            FeatureLookup("main.fs.customers", "customer_id")])
    with pytest.raises(KilnError, match="feature 'income' is not in feature table "
                                        "main.fs.customers"):
        client.create_training_set(df=labels, label="y", feature_lookups=[
            FeatureLookup("main.fs.customers", "cid", feature_names=["income"])])
    with pytest.raises(KilnError, match="primary key 'customer_id' is object in the DataFrame "
                                        "but int64 in feature table main.fs.customers"):
        client.write_table(name="main.fs.customers", df=pd.DataFrame({
            "customer_id": ["1"], "age": [1], "plan": ["x"]}))
    with pytest.raises(KilnError, match=r"duplicate primary keys \(customer_id=5: 2 rows\)"):
        client.write_table(name="main.fs.customers", df=pd.DataFrame({
            "customer_id": [5, 5], "age": [1, 2], "plan": ["x", "y"]}))
    with pytest.raises(KilnError, match="lookup key 'customer_id' is object in the DataFrame"):
        client.create_training_set(df=pd.DataFrame({"customer_id": ["a"], "y": [1]}),
                                   label="y", feature_lookups=[
                                       FeatureLookup("main.fs.customers", "customer_id")])
    with pytest.raises(KilnError, match="label 'target' is not a column"):
        client.create_training_set(df=labels, label="target", feature_lookups=[])
    with pytest.raises(NotFound, match="feature table main.fs.nope does not exist"):
        client.get_table(name="main.fs.nope")
    with pytest.raises(KilnError, match="already exists"):
        make_tables(client)
    with pytest.raises(KilnError, match="timeseries column 'ts' must be one of the "
                                        r"primary_keys \(customer_id\)"):
        client.create_table(name="main.fs.late", primary_keys="customer_id",
                            timestamp_keys=["ts"], df=pd.DataFrame({
                                "customer_id": [1], "ts": [T], "x": [1.0]}))
    assert client.read_table(name="main.fs.customers")["customer_id"].tolist() == [1, 2, 3]
    client.drop_table(name="main.fs.spend")
    with pytest.raises(NotFound):
        client.read_table(name="main.fs.spend")


def test_a_model_logged_with_its_features_scores_from_keys_alone(fe, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from kiln.models.store import ensure_store, mlflow_env

    client, ws = fe
    ensure_store(ws.local_root())
    for k, v in mlflow_env(ws.local_root()).items():
        monkeypatch.setenv(k, v)
    mlflow.set_tracking_uri(mlflow_env(ws.local_root())["MLFLOW_TRACKING_URI"])
    mlflow.set_registry_uri(mlflow_env(ws.local_root())["MLFLOW_REGISTRY_URI"])
    make_tables(client)
    labels = pd.DataFrame({"customer_id": [1, 1, 2, 3, 2],
                           "at": [T + pd.Timedelta(days=d) for d in (1, 3, 4, 1, 20)],
                           "churned": [0, 1, 0, 1, 1]})
    ts = client.create_training_set(df=labels, label="churned",
                                    exclude_columns=["customer_id", "at"], feature_lookups=[
        FeatureLookup("main.fs.customers", "customer_id", feature_names=["age"]),
        FeatureLookup("main.fs.spend", "customer_id", timestamp_lookup_key="at",
                      default_values={"spend_7d": 0.0})])
    train = ts.load_df()
    X, y = train.drop(columns=["churned"]), train["churned"]
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run():
        client.log_model(model=model, artifact_path="model", flavor=mlflow.sklearn,
                         training_set=ts, registered_model_name="main.fs.churn")
    scored = client.score_batch(model_uri="models:/main.fs.churn/1",
                                df=labels[["customer_id", "at"]])
    assert list(scored.columns) == ["customer_id", "at", "prediction"]
    assert scored["prediction"].tolist() == model.predict(X).astype(float).tolist()
    # a feature sent with the keys is used as sent, the others are still looked up
    override = labels[["customer_id", "at"]].assign(age=99)
    scored = client.score_batch(model_uri="models:/main.fs.churn/1", df=override)
    assert scored["prediction"].tolist() == model.predict(X.assign(age=99)).astype(float).tolist()
    # with every feature sent there is nothing to look up: no keys needed
    scored = client.score_batch(model_uri="models:/main.fs.churn/1", df=X)
    assert scored["prediction"].tolist() == model.predict(X).astype(float).tolist()
    with pytest.raises(Exception, match="lookup key 'at' of the lookup on main.fs.spend"):
        client.score_batch(model_uri="models:/main.fs.churn/1", df=labels[["customer_id"]])
    from kiln.models.cards import build, to_markdown
    from kiln.models.registry import Registry

    card = build(Registry(ws), "main.fs.churn", 1)
    assert [(f["feature"], f["table"]) for f in card.features] == [
        ("age", "main.fs.customers"), ("spend_7d", "main.fs.spend")]
    assert all(f["last written"] != "unknown" for f in card.features)
    assert "## Features" in to_markdown(card)
    # an endpoint looks features up as its creator: without SELECT on a feature table it
    # does not serve, and its state names the table
    from kiln.identity import Identities
    from kiln.serving.endpoints import Endpoints, state_of
    from kiln.serving.runtime import ServingRuntime

    ids = Identities(ws)
    for user in ("alice@example.com", "bob@example.com"):
        ids.add(user, "USER")
    ids.set_membership("admins", "alice@example.com", True)
    config = {"config": {"served_entities": [{"entity_name": "main.fs.churn",
                                              "entity_version": "1"}]}}
    Endpoints(ws.as_user("bob@example.com")).create("bobs", config)
    Endpoints(ws).create("alices", config)
    runtime = ServingRuntime(ws)
    runtime.sync()
    assert sorted(runtime.endpoints) == ["alices"]
    assert "User bob@example.com does not have USE CATALOG on Catalog 'main'" in \
        state_of(ws, "bobs")["message"], state_of(ws, "bobs")
    runtime.pool.shutdown()
    with pytest.raises(KilnError, match="feature table main.fs.spend is used by registered "
                                        "model main.fs.churn: delete the model first"):
        client.drop_table(name="main.fs.spend")
    mlflow.MlflowClient().delete_registered_model("main.fs.churn")
    client.drop_table(name="main.fs.spend")


def test_a_published_table_answers_lookups_from_the_online_store(fe, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from kiln.features import online
    from kiln.features.model import _reader, lookups_of, spec_lookup, with_features

    client, ws = fe
    make_tables(client)
    labels = pd.DataFrame({"customer_id": [1, 2], "at": [T + pd.Timedelta(days=1), T],
                           "y": [0, 1]})
    ts = client.create_training_set(df=labels, label="y", exclude_columns=["at"],
                                    feature_lookups=[FeatureLookup(
                                        "main.fs.spend", "customer_id",
                                        timestamp_lookup_key="at")])
    spec = {"lookups": [spec_lookup(lk) for lk in ts.lookups],
            "model_columns": ["customer_id", "spend_7d"], "label": ["y"]}
    assert lookups_of(spec)[0].timestamp_lookup_key == "at"
    before = with_features(labels, spec, _reader())
    assert before["spend_7d"].tolist() == [10.0, 5.0]  # point in time, from Delta
    assert client.get_online_store(name="features") is None
    store = client.create_online_store(name="features", capacity="CU_1")
    assert client.get_online_store(name="features") == store and store.state == "AVAILABLE"
    with pytest.raises(KilnError, match="online store 'features' already exists"):
        client.create_online_store(name="features", capacity="CU_1")
    with pytest.raises(KilnError, match="capacity must be one of CU_1, CU_2, CU_4, CU_8"):
        client.create_online_store(name="other", capacity="huge")
    client.publish_table(online_store=store, source_table_name="main.fs.spend",
                         online_table_name="main.fs.spend_online")
    assert online.load(ws.local_root(), "main.fs.spend")["spend_7d"].tolist() == [30.0, 50.0]
    assert with_features(labels, spec, _reader())["spend_7d"].tolist() == [30.0, 50.0]
    client.write_table(name="main.fs.spend", df=pd.DataFrame({
        "customer_id": [2], "ts": [T + pd.Timedelta(days=9)], "spend_7d": [99.0]}))
    assert with_features(labels, spec, _reader())["spend_7d"].tolist() == [30.0, 99.0]
    assert client.get_table(name="main.fs.spend").features == ["spend_7d"]
    assert ws.get("tables", "main.fs.spend").settings["published"] is True
    assert ws.get("tables", "main.fs.spend").settings["online_table"] == "main.fs.spend_online"
