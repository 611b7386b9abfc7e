"""A model that carries its features: logged by ``FeatureEngineeringClient.log_model``, it
is an MLflow pyfunc model holding the trained model and its feature spec (which feature
tables, looked up by which keys, which columns the model takes). Given only the keys (and
the timestamp of a point-in-time lookup) it looks its features up in the workspace's
feature tables, then predicts: in ``score_batch``, in a task, and behind a serving
endpoint, the same way. A published table is looked up in the online store instead (its
latest values, in memory), as Databricks' online feature serving does. A feature the
caller sends is used as sent, not looked up (Databricks' override).
"""

from __future__ import annotations

import json
from typing import Any

import mlflow.pyfunc
import pandas as pd

SPEC_FILE = "feature_spec.json"


def lookups_of(spec: dict[str, Any]) -> list[Any]:
    from datetime import timedelta

    from kiln.features.pit import Lookup

    return [Lookup(lk["table"], tuple(lk["primary_keys"]), tuple(lk["lookup_keys"]),
                   tuple(lk["features"]), tuple(lk["outputs"]), lk.get("timeseries_column"),
                   lk.get("timestamp_lookup_key"),
                   timedelta(seconds=lk["lookback_s"]) if lk.get("lookback_s") is not None
                   else None, dict(lk.get("defaults") or {}))
            for lk in spec["lookups"]]


def spec_lookup(lookup: Any) -> dict[str, Any]:
    """A resolved lookup as the feature spec keeps it (JSON)."""
    return {"table": lookup.table, "primary_keys": list(lookup.primary_keys),
            "lookup_keys": list(lookup.lookup_keys), "features": list(lookup.features),
            "outputs": list(lookup.outputs), "timeseries_column": lookup.timeseries_column,
            "timestamp_lookup_key": lookup.timestamp_lookup_key,
            "lookback_s": lookup.lookback.total_seconds() if lookup.lookback else None,
            "defaults": lookup.defaults}


def with_features(frame: pd.DataFrame, spec: dict[str, Any], read: Any) -> pd.DataFrame:
    """``frame`` (keys, timestamps, other inputs) with the spec's features, as the model
    takes them: its columns, in its order. ``read(lookup)`` gives the rows to look up in,
    and the lookup as they answer it."""
    from kiln.errors import KilnError

    out = looked_up(frame, spec, read)
    missing = [c for c in spec["model_columns"] if c not in out.columns]
    if missing:
        raise KilnError(f"the model takes column {missing[0]!r}: the request has neither it "
                        "nor a lookup that gives it")
    return out[spec["model_columns"]]


def looked_up(frame: pd.DataFrame, spec: dict[str, Any], read: Any) -> pd.DataFrame:
    """``frame``, every column kept, with the features it did not send looked up and the
    on-demand features computed (what a serving endpoint logs to its inference table)."""
    from kiln.errors import KilnError
    from kiln.features.pit import join

    out = frame
    for lookup in lookups_of(spec):
        lookup = _not_given(lookup, out.columns)
        if lookup is None:
            continue
        rows, lookup = read(lookup)
        out = join(out, rows, lookup)
        bare = [o for o in lookup.outputs if o not in lookup.defaults]
        if bare and len(out):
            unmatched = out[bare].isna().all(axis=1)
            if unmatched.any():
                row = out[unmatched].iloc[0]
                keys = ", ".join(f"{k}={_plain(row[k])!r}" for k in lookup.lookup_keys)
                raise KilnError(f"no features for {keys} in {lookup.table} (and no "
                                f"default_values for {', '.join(bare)})")
    functions = [fn for fn in spec.get("functions") or [] if fn["output_name"] not in
                 out.columns]
    if functions:
        from kiln.features.client import apply_functions
        from kiln.tables import _catalog

        out = apply_functions(out, functions, _catalog().function)
    return out


def _not_given(lookup: Any, columns: Any) -> Any:
    """The lookup of only the features the caller did not send: a column named like a
    feature overrides its lookup, as in Databricks (None: every feature was sent)."""
    from dataclasses import replace

    given = set(columns)
    wanted = [(f, o) for f, o in zip(lookup.features, lookup.outputs) if o not in given]
    if not wanted:
        return None
    if len(wanted) == len(lookup.features):
        return lookup
    return replace(lookup, features=tuple(f for f, _ in wanted),
                   outputs=tuple(o for _, o in wanted),
                   defaults={o: v for o, v in lookup.defaults.items()
                             if o in {o for _, o in wanted}})


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _reader() -> Any:
    """Published tables from the online store, others from their Delta table."""
    from kiln.features import online
    from kiln.settings import Settings
    from kiln.tables import read

    workspace_dir = Settings.from_env().workspace_dir or ""

    def rows(lookup: Any) -> tuple[pd.DataFrame, Any]:
        published = online.load(workspace_dir, lookup.table, list(lookup.primary_keys)) \
            if workspace_dir else None
        if published is not None:
            return published, online.online_lookup(lookup)
        return read(lookup.table), lookup

    return rows


class FeatureModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        with open(context.artifacts["feature_spec"], encoding="utf-8") as f:
            self.spec = json.load(f)
        self.model = mlflow.pyfunc.load_model(context.artifacts["model"])
        from kiln.models.raw import sklearn_estimator, takes_matrix

        estimator = sklearn_estimator(self.model)
        # a scikit-learn model of the features it was fitted on: given them as a float
        # matrix when they are all numbers (its DataFrame checks cost more than predict)
        self.estimator = estimator if takes_matrix(estimator, self.spec["model_columns"]) \
            else None

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        features = with_features(pd.DataFrame(model_input), self.spec, _reader())
        if self.estimator is not None and all(
                pd.api.types.is_numeric_dtype(t) for t in features.dtypes):
            return self.estimator.predict(features.to_numpy(dtype="float64"))
        return self.model.predict(features)

    def augment(self, model_input: pd.DataFrame) -> pd.DataFrame:
        """The input with its features looked up, every column kept: what a serving
        endpoint scores and logs (Databricks' augmented inference table)."""
        return looked_up(pd.DataFrame(model_input), self.spec, _reader())
