"""A model that carries its features: logged by ``FeatureEngineeringClient.log_model``, it
is an MLflow pyfunc model holding the trained model and its feature spec (which feature
tables, looked up by which keys, which columns the model takes). Given only the keys (and
the timestamp of a point-in-time lookup) it looks its features up in the workspace's
feature tables, then predicts: in ``score_batch``, in a task, and behind a serving
endpoint, the same way. A published table is looked up in the online store instead (its
latest values, in memory), as Databricks' online feature serving does.
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
    from kiln.features.pit import join

    out = frame
    for lookup in lookups_of(spec):
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
    if spec.get("functions"):
        from kiln.catalog.functions import Functions
        from kiln.features.client import apply_functions
        from kiln.session import workspace

        out = apply_functions(out, spec["functions"], Functions(workspace()).get)
    missing = [c for c in spec["model_columns"] if c not in out.columns]
    if missing:
        raise KilnError(f"the model takes column {missing[0]!r}: the request has neither it "
                        "nor a lookup that gives it")
    return out[spec["model_columns"]]


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

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        features = with_features(pd.DataFrame(model_input), self.spec, _reader())
        return self.model.predict(features)
