"""The metric tables' fixed schemas (so every refresh appends the same shape)."""

from __future__ import annotations

from typing import Any, Callable

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")
WINDOW = pa.struct([("start", _TS), ("end", _TS)])
TEST = pa.struct([("statistic", pa.float64()), ("pvalue", pa.float64())])
_KEYS = [("window", WINDOW), ("granularity", pa.string()), ("model_id", pa.string()),
         ("slice_key", pa.string()), ("slice_value", pa.string()),
         ("column_name", pa.string()), ("data_type", pa.string())]

QUALITY = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mse", "rmse",
           "mae", "mape", "r2")
PROFILE_SCHEMA = pa.schema(_KEYS + [
    ("log_type", pa.string()), ("count", pa.int64()), ("num_nulls", pa.int64()),
    ("percent_null", pa.float64()), ("num_zeros", pa.int64()),
    ("distinct_count", pa.int64()), ("avg", pa.float64()), ("stddev", pa.float64()),
    ("min", pa.float64()), ("max", pa.float64()), ("quantiles", pa.list_(pa.float64())),
    ("frequent_items", pa.list_(pa.struct([("item", pa.string()), ("count", pa.int64())]))),
    *[(q, pa.float64()) for q in QUALITY],
    ("confusion_matrix", pa.list_(pa.list_(pa.int64()))),
])

DRIFT_METRICS = ("count_delta", "avg_delta", "percent_null_delta", "js_distance", "ks_test",
                 "wasserstein_distance", "population_stability_index", "chi_squared_test",
                 "tv_distance", "l_infinity_distance")
DRIFT_SCHEMA = pa.schema(_KEYS + [
    ("drift_type", pa.string()), ("count_delta", pa.float64()), ("avg_delta", pa.float64()),
    ("percent_null_delta", pa.float64()), ("js_distance", pa.float64()), ("ks_test", TEST),
    ("wasserstein_distance", pa.float64()), ("population_stability_index", pa.float64()),
    ("chi_squared_test", TEST), ("tv_distance", pa.float64()),
    ("l_infinity_distance", pa.float64()),
])


def to_arrow(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows from ``kiln.monitoring.compute`` in the table's schema."""
    shaped = []
    for r in rows:
        r = dict(r)
        r["window"] = {"start": r.pop("window_start"), "end": r.pop("window_end")}
        if "ks_statistic" in r:
            ks, kp = r.pop("ks_statistic"), r.pop("ks_pvalue")
            cs, cp = r.pop("chi_squared_statistic"), r.pop("chi_squared_pvalue")
            r["ks_test"] = None if ks is None else {"statistic": ks, "pvalue": kp}
            r["chi_squared_test"] = None if cs is None else {"statistic": cs, "pvalue": cp}
        shaped.append(r)
    return pa.Table.from_pylist(shaped, schema=schema)


def metric_value(metric: str) -> Callable[[Any], float | None]:
    """How to read a metric as one number (tests by their statistic)."""
    if metric in ("ks_test", "chi_squared_test"):
        return lambda v: None if v is None else v.get("statistic")
    return lambda v: None if v is None or v != v else float(v)
