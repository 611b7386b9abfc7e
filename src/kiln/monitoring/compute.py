"""Profile and drift metrics of a table over time windows (pure: DataFrames in, rows out).

Rows follow Databricks Lakehouse Monitoring's metric tables: one profile row per window x
granularity x model id x slice x column (plus ``:table`` rows for whole-table metrics),
one drift row per the same keys x drift type (``CONSECUTIVE`` against the previous window,
``BASELINE`` against the baseline table).
"""

from __future__ import annotations

import functools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import KilnError
from kiln.monitoring.drift import categorical_counts_drift, clean_sorted, sorted_numeric_drift

SNAPSHOT = "snapshot"  # the granularity of snapshot monitors
SNAPSHOT_TIME = "__snapshot_time"  # the refresh time, added to a snapshot's rows
ALL = ":all"  # model_id / slice value of rows over everything
TABLE = ":table"
QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
_GRAN = re.compile(r"^\s*(\d+)\s+(minute|hour|day|week|month|year)s?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Spec:
    timestamp_col: str
    granularities: tuple[str, ...]
    model_id_col: str | None = None
    prediction_col: str | None = None
    label_col: str | None = None
    problem_type: str | None = None  # classification | regression
    slicing_exprs: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None  # default: every column but the keys
    skip_windows: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def window_starts(ts: pd.Series, granularity: str) -> pd.Series:
    """The start of the window each timestamp falls in (UTC, aligned to the epoch; weeks
    start on Monday, months on the 1st)."""
    if granularity == SNAPSHOT:  # one window per refresh, at the refresh time
        return pd.to_datetime(ts, utc=True).dt.floor("s")
    m = _GRAN.match(granularity)
    if not m:
        raise KilnError(f"invalid granularity {granularity!r}: use '<n> minutes|hours|days|"
                        "weeks|months|years', e.g. '1 day'")
    n, unit = int(m.group(1)), m.group(2).lower()
    ts = pd.to_datetime(ts, utc=True)
    if unit in ("minute", "hour", "day"):
        return ts.dt.floor(f"{n}{ {'minute': 'min', 'hour': 'h', 'day': 'D'}[unit]}")
    if unit == "week":
        days = ts.dt.floor("D")
        monday = days - pd.to_timedelta(days.dt.day_of_week, unit="D")
        if n == 1:
            return monday
        epoch = pd.Timestamp("1970-01-05", tz="UTC")  # a Monday
        weeks = ((monday - epoch).dt.days // 7 // n) * n
        return epoch + pd.to_timedelta(weeks * 7, unit="D")
    months = ts.dt.year * 12 + ts.dt.month - 1
    if unit == "year":
        months = (ts.dt.year // n * n) * 12
    else:
        months = months // n * n
    return pd.to_datetime({"year": months // 12, "month": months % 12 + 1, "day": 1}, utc=True)


def window_end(start: pd.Timestamp, granularity: str) -> pd.Timestamp:
    if granularity == SNAPSHOT:
        return start
    n, unit = int(_GRAN.match(granularity).group(1)), _GRAN.match(granularity).group(2).lower()
    if unit in ("month", "year"):
        return start + pd.DateOffset(months=n * (12 if unit == "year" else 1))
    return start + pd.Timedelta(**{f"{unit}s": n}) if unit != "week" else \
        start + pd.Timedelta(days=7 * n)


IDENTIFIERS = ("databricks_request_id", "client_request_id")  # never features


def feature_columns(frame: pd.DataFrame, spec: Spec) -> list[str]:
    if spec.columns is not None:
        return list(spec.columns)
    keys = {spec.timestamp_col, spec.model_id_col, SNAPSHOT_TIME, *IDENTIFIERS}
    return [c for c in frame.columns if c not in keys]


def is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def compute(frame: pd.DataFrame, baseline: pd.DataFrame | None, spec: Spec
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(profile rows, drift rows) for every window of ``frame`` not in ``spec.skip_windows``."""
    if spec.timestamp_col not in frame.columns:
        raise KilnError(f"the table has no timestamp column {spec.timestamp_col!r}")
    cols = feature_columns(frame, spec)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise KilnError(f"the table has no column {missing[0]!r}")
    cache = ColumnCache()
    profile: list[dict[str, Any]] = []
    drift: list[dict[str, Any]] = []
    base_groups = dict(_groups(baseline, spec)) if baseline is not None else {}
    for gran in spec.granularities:
        starts = window_starts(frame[spec.timestamp_col], gran)
        order = sorted(starts.dropna().unique())
        for (model_id, slice_key, slice_value), part in _groups(frame, spec):
            part_starts = starts.loc[part.index]
            by_window = {w: part.loc[part_starts == w] for w in order}
            prev: pd.DataFrame | None = None
            for w in order:
                cur = by_window[w]
                end = window_end(pd.Timestamp(w), gran)
                keys = {"window_start": pd.Timestamp(w), "window_end": end,
                        "granularity": gran, "model_id": model_id, "slice_key": slice_key,
                        "slice_value": slice_value}
                if (gran, pd.Timestamp(w).isoformat()) not in spec.skip_windows:
                    profile += _profile(cache, cur, cols, keys, spec, "INPUT")
                    ref_base = base_groups.get((ALL if spec.model_id_col is None else model_id,
                                                slice_key, slice_value))
                    if ref_base is None and (model_id, slice_key, slice_value) != \
                            (ALL, ALL, ALL):
                        ref_base = base_groups.get((ALL, slice_key, slice_value))
                    if prev is not None:
                        drift += _drift(cache, prev, cur, cols, keys, "CONSECUTIVE")
                    if ref_base is not None:  # the columns the baseline has
                        drift += _drift(cache, ref_base, cur, [c for c in cols if c in ref_base],
                                        keys, "BASELINE")
                prev = cur
    return profile, drift


def _groups(frame: pd.DataFrame, spec: Spec):  # type: ignore[no-untyped-def]
    """(model id, slice key, slice value) -> rows: everything, per model, per slice."""
    yield (ALL, ALL, ALL), frame
    if spec.model_id_col and spec.model_id_col in frame.columns:
        for mid, part in frame.groupby(spec.model_id_col, dropna=False, sort=True):
            yield (str(mid), ALL, ALL), part
    for expr in spec.slicing_exprs:
        values = _slice_values(frame, expr)
        for value in sorted(values.dropna().unique(), key=str):
            yield (ALL, expr, str(value)), frame.loc[values == value]


def _slice_values(frame: pd.DataFrame, expr: str) -> pd.Series:
    if expr in frame.columns:
        return frame[expr]
    import duckdb

    try:
        out = duckdb.query_df(frame, "t", f"SELECT ({expr}) AS v FROM t").df()["v"]
    except duckdb.Error as e:
        raise KilnError(f"slicing expression {expr!r}: {str(e).splitlines()[0]}") from None
    out.index = frame.index
    return out


def _profile(cache: ColumnCache, part: pd.DataFrame, cols: list[str], keys: dict[str, Any], spec: Spec,
             log_type: str) -> list[dict[str, Any]]:
    rows = [{**keys, "column_name": TABLE, "data_type": "table", "log_type": log_type,
             "count": len(part), **_quality(part, spec)}]

    def one(c: str) -> dict[str, Any]:
        s = part[c]
        n = len(s)
        nulls = int(s.isna().sum())
        row: dict[str, Any] = {**keys, "column_name": c, "data_type": str(s.dtype),
                               "log_type": log_type, "count": n, "num_nulls": nulls,
                               "percent_null": 100.0 * nulls / n if n else None,
                               "distinct_count": _distinct(cache, part, c)}
        if is_numeric(s):
            vals = cache.sorted(part, c)
            row.update(num_zeros=int((vals == 0).sum()),
                       avg=float(vals.mean()) if len(vals) else None,
                       stddev=float(vals.std(ddof=1)) if len(vals) > 1 else None,
                       min=float(vals[0]) if len(vals) else None,
                       max=float(vals[-1]) if len(vals) else None,
                       quantiles=[float(x) for x in np.quantile(vals, QUANTILES)]
                       if len(vals) else None)
        else:
            top = cache.counts(part, c).head(5)
            row["frequent_items"] = [{"item": k, "count": int(v)} for k, v in top.items()]
        return row

    return rows + list(_pool().map(one, cols))


def _distinct(cache: ColumnCache, part: pd.DataFrame, column: str) -> int:
    if is_numeric(part[column]):
        vals = cache.sorted(part, column)
        return int(len(vals) and 1 + np.count_nonzero(vals[1:] != vals[:-1]))
    return len(cache.counts(part, column))


def _quality(part: pd.DataFrame, spec: Spec) -> dict[str, Any]:
    """Model quality metrics of the window, when labels and predictions are there."""
    if not (spec.label_col and spec.prediction_col and spec.label_col in part.columns
            and spec.prediction_col in part.columns):
        return {}
    both = part[[spec.label_col, spec.prediction_col]].dropna()
    if both.empty:
        return {}
    y, p = both[spec.label_col].to_numpy(), both[spec.prediction_col].to_numpy()
    from sklearn import metrics as m

    if spec.problem_type == "regression":
        y, p = y.astype(float), p.astype(float)
        mse = float(m.mean_squared_error(y, p))
        return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(m.mean_absolute_error(y, p)),
                "mape": float(m.mean_absolute_percentage_error(y, p)),
                "r2": float(m.r2_score(y, p)) if len(y) > 1 else None}
    labels = sorted(set(y.tolist()) | set(p.tolist()), key=str)
    out: dict[str, Any] = {
        "accuracy": float(m.accuracy_score(y, p)),
        "precision": float(m.precision_score(y, p, average="weighted", zero_division=0)),
        "recall": float(m.recall_score(y, p, average="weighted", zero_division=0)),
        "f1": float(m.f1_score(y, p, average="weighted", zero_division=0)),
        "confusion_matrix": m.confusion_matrix(y, p, labels=labels).tolist()}
    if len(set(y.tolist())) == 2 and len(labels) == 2:
        out["roc_auc"] = float(m.roc_auc_score(y, p))
        out["log_loss"] = float(m.log_loss(y, np.clip(p.astype(float), 1e-15, 1 - 1e-15),
                                           labels=labels))
    return out


class ColumnCache:
    """Per-frame column summaries of one ``compute`` call: each window's and the baseline's
    sorted values and category counts are made once (the baseline meets every window)."""

    def __init__(self) -> None:
        self._by_frame: dict[int, tuple[pd.DataFrame, dict[str, Any]]] = {}

    def _slot(self, frame: pd.DataFrame) -> dict[str, Any]:
        return self._by_frame.setdefault(id(frame), (frame, {}))[1]  # keeps the frame alive

    def sorted(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """The column's sorted non-null values."""
        slot = self._slot(frame)
        if ("sorted", column) not in slot:
            slot["sorted", column] = clean_sorted(
                frame[column].to_numpy(dtype=float, na_value=np.nan))
        return slot["sorted", column]

    def counts(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """Counts per category (as text) of the column's non-null values."""
        slot = self._slot(frame)
        if ("counts", column) not in slot:
            slot["counts", column] = frame[column].dropna().astype(str).value_counts()
        return slot["counts", column]


def _drift(cache: ColumnCache, ref: pd.DataFrame, cur: pd.DataFrame, cols: list[str], keys: dict[str, Any],
           drift_type: str) -> list[dict[str, Any]]:
    def one(c: str) -> dict[str, Any]:
        if is_numeric(cur[c]) and is_numeric(ref[c]):
            d = sorted_numeric_drift(cache.sorted(ref, c), cache.sorted(cur, c), len(ref), len(cur))
        else:
            rc, cc = cache.counts(ref, c), cache.counts(cur, c)
            cats = sorted(set(rc.index) | set(cc.index))
            d = categorical_counts_drift(len(ref), len(cur),
                                         rc.reindex(cats, fill_value=0).to_numpy(),
                                         cc.reindex(cats, fill_value=0).to_numpy())
        return {**keys, "column_name": c, "data_type": str(cur[c].dtype),
                "drift_type": drift_type, **asdict(d)}

    # columns are independent and numpy's sorts and merges run outside the GIL
    return list(_pool().map(one, cols))


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                              thread_name_prefix="monitoring")

