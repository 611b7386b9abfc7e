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
from kiln.memory import reuse_freed_memory
from kiln.monitoring.drift import (Drift, categorical_counts_drift, clean_sorted,
                                   preload_scipy, sorted_numeric_drift,
                                   sorted_quantiles)

SNAPSHOT = "snapshot"  # the granularity of snapshot monitors
SNAPSHOT_TIME = "__snapshot_time"  # the refresh time, added to a snapshot's rows
ALL = ":all"  # model_id of rows over every model
# slice_key / slice_value of rows over the whole table: NULL, as Databricks writes them
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
    m = _GRAN.match(granularity)
    n, unit = int(m.group(1)), m.group(2).lower()
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
    items = _work_items(frame, baseline, spec)
    profile: list[dict[str, Any]] = []
    drift: list[dict[str, Any]] = []
    # columns are independent, and numpy's sorts and merges run outside the GIL; the
    # summaries (sorts, counts) need no scipy, so they overlap with its import
    preload_scipy()
    reuse_freed_memory()
    columns = list(_pool().map(lambda c: _Column(frame, baseline, c, items), cols))
    per_column = list(_pool().map(lambda col: _column_rows(col, items), columns))
    for i, item in enumerate(items):
        profile.append({**item.keys, "column_name": TABLE, "data_type": "table",
                        "log_type": "INPUT", "count": len(item.cur),
                        **_quality(frame, item.cur, spec)})
        profile += [rows[i][0] for rows in per_column]
        for kind in (0, 1):  # every column's CONSECUTIVE row, then every BASELINE row
            drift += [rows[i][1][kind] for rows in per_column if rows[i][1][kind]]
    return profile, drift


@dataclass(frozen=True)
class _Item:
    """One window of one group to compute: its rows (positions in the frame), the previous
    window's rows (CONSECUTIVE) and the baseline's rows (BASELINE), when there are."""
    keys: dict[str, Any]
    cur: np.ndarray
    prev: np.ndarray | None
    base: np.ndarray | None


def _work_items(frame: pd.DataFrame, baseline: pd.DataFrame | None, spec: Spec) -> list[_Item]:
    base_groups = dict(_groups(baseline, spec)) if baseline is not None else {}
    items = []
    for gran in spec.granularities:
        codes, order = pd.factorize(window_starts(frame[spec.timestamp_col], gran), sort=True)
        for (model_id, slice_key, slice_value), rows in _groups(frame, spec):
            by_window = rows[np.argsort(codes[rows], kind="stable")]
            bounds = np.searchsorted(codes[by_window], np.arange(len(order) + 1))
            prev: np.ndarray | None = None
            prev_start: pd.Timestamp | None = None
            for k, w in enumerate(order):
                cur = by_window[bounds[k]:bounds[k + 1]]
                start = pd.Timestamp(w)
                if not len(cur):  # the group has no rows in this window: no window for it
                    prev, prev_start = None, None
                    continue
                # CONSECUTIVE drift compares with the window just before, only when that
                # window exists (as Databricks computes it); snapshots with the last one
                if gran != SNAPSHOT and (prev_start is None
                                         or window_end(prev_start, gran) != start):
                    prev = None
                if (gran, start.isoformat()) not in spec.skip_windows:
                    base = base_groups.get((ALL if spec.model_id_col is None else model_id,
                                            slice_key, slice_value))
                    if base is None and (model_id, slice_key, slice_value) != (ALL, None, None):
                        base = base_groups.get((ALL, slice_key, slice_value))
                    keys = {"window_start": start, "window_end": window_end(start, gran),
                            "granularity": gran, "model_id": model_id,
                            "slice_key": slice_key, "slice_value": slice_value}
                    items.append(_Item(keys, cur, prev, base))
                prev, prev_start = cur, start
    return items


def _groups(frame: pd.DataFrame, spec: Spec):  # type: ignore[no-untyped-def]
    """(model id, slice key, slice value) -> row positions: everything, per model, per
    slice."""
    yield (ALL, None, None), np.arange(len(frame))
    if spec.model_id_col and spec.model_id_col in frame.columns:
        for mid, rows in sorted(frame.groupby(spec.model_id_col, dropna=False,
                                              sort=True).indices.items(), key=lambda kv: kv[0]):
            yield (str(mid), None, None), np.asarray(rows)
    for expr in spec.slicing_exprs:
        values = _slice_values(frame, expr)
        for value in sorted(values.dropna().unique(), key=str):
            yield (ALL, expr, str(value)), np.flatnonzero((values == value).to_numpy())


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


class _Column:
    """One column of the table and the same column of the baseline, extracted once:
    numeric as floats with NaN for nulls, otherwise as category codes (-1 for nulls) into
    one vocabulary (the values as text) shared by both sides; and the summary of each
    item's rows (sorted non-null values, or counts per category)."""

    def __init__(self, frame: pd.DataFrame, baseline: pd.DataFrame | None, name: str,
                 items: list[_Item]) -> None:
        s = frame[name]
        b = baseline[name] if baseline is not None and name in baseline else None
        self.name = name
        self.data_type = str(s.dtype)
        self.numeric = is_numeric(s) and (b is None or is_numeric(b))
        self.has_baseline = b is not None
        if self.numeric:
            values = s.to_numpy(dtype=float, na_value=np.nan)
            base_values = b.to_numpy(dtype=float, na_value=np.nan) if b is not None else None
        else:
            codes, names = _category_codes(s)
            base_codes, base_names = _category_codes(b) if b is not None else (None, names[:0])
            self.vocab = np.unique(np.concatenate([names, base_names]))
            codes = _recode(codes, names, self.vocab)
            if base_codes is not None:
                base_codes = _recode(base_codes, base_names, self.vocab)
        self._summaries: dict[tuple[int, bool], np.ndarray] = {}
        for item in items:  # items share their row arrays: each is summarized once
            for rows, base in ((item.cur, False), (item.prev, False), (item.base, True)):
                key = (id(rows), base)
                if rows is None or key in self._summaries or (base and b is None):
                    continue
                if self.numeric:
                    self._summaries[key] = clean_sorted((base_values if base else values)[rows])
                else:
                    part = (base_codes if base else codes)[rows]
                    self._summaries[key] = np.bincount(part[part >= 0],
                                                       minlength=len(self.vocab))

    def summary(self, rows: np.ndarray, base: bool = False) -> np.ndarray:
        """The sorted non-null values (numeric) or the counts per vocabulary entry."""
        return self._summaries[id(rows), base]


def _category_codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 for nulls) and the text of each code's value."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    return codes, np.array([str(u) for u in uniques], dtype=object)


def _recode(codes: np.ndarray, names: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """``codes`` into ``names`` as codes into ``vocab`` (which holds every name)."""
    mapping = np.append(np.searchsorted(vocab, names), -1)  # code -1 stays -1
    return mapping[codes] if len(names) else np.full(len(codes), -1)


def _column_rows(col: _Column, items: list[_Item]
                 ) -> list[tuple[dict[str, Any], list[dict[str, Any] | None]]]:
    """For each item: the column's profile row and its drift rows (CONSECUTIVE, BASELINE;
    None where there is nothing to compare with)."""
    out = []
    for item in items:
        cur = col.summary(item.cur)
        row = _profile_row(col, cur, len(item.cur), {**item.keys, "column_name": col.name})
        drift: list[dict[str, Any] | None] = [None, None]
        for i, (ref, base) in enumerate(((item.prev, False), (item.base, True))):
            if ref is None or (base and not col.has_baseline):
                continue
            d = _drift_of(col, col.summary(ref, base), cur, len(ref), len(item.cur))
            drift[i] = {**item.keys, "column_name": col.name, "data_type": col.data_type,
                        "drift_type": "BASELINE" if base else "CONSECUTIVE", **asdict(d)}
        out.append((row, drift))
    return out


def _profile_row(col: _Column, summary: np.ndarray, n: int, keys: dict[str, Any]
                 ) -> dict[str, Any]:
    ok = len(summary) if col.numeric else int(summary.sum())
    nulls = n - ok
    row: dict[str, Any] = {**keys, "data_type": col.data_type, "log_type": "INPUT",
                           "count": n, "num_nulls": nulls,
                           "percent_null": 100.0 * nulls / n if n else None}
    if col.numeric:
        vals = summary
        row.update(distinct_count=int(len(vals) and 1 + np.count_nonzero(vals[1:] != vals[:-1])),
                   num_zeros=int(np.searchsorted(vals, 0.0, "right")
                                 - np.searchsorted(vals, 0.0, "left")),
                   avg=float(vals.mean()) if len(vals) else None,
                   stddev=float(vals.std(ddof=1)) if len(vals) > 1 else None,
                   min=float(vals[0]) if len(vals) else None,
                   max=float(vals[-1]) if len(vals) else None,
                   quantiles=[float(x) for x in sorted_quantiles(vals, QUANTILES)]
                   if len(vals) else None)
    else:
        present = np.flatnonzero(summary)
        top = sorted(present, key=lambda i: (-summary[i], col.vocab[i]))[:5]
        row.update(distinct_count=len(present),
                   frequent_items=[{"item": col.vocab[i], "count": int(summary[i])}
                                   for i in top])
    return row


def _drift_of(col: _Column, ref: np.ndarray, cur: np.ndarray, n_ref: int, n_cur: int) -> Drift:
    if col.numeric:
        return sorted_numeric_drift(ref, cur, n_ref, n_cur)
    return categorical_counts_drift(n_ref, n_cur, ref, cur)


def _quality(frame: pd.DataFrame, rows: np.ndarray, spec: Spec) -> dict[str, Any]:
    """Model quality metrics of the rows, when labels and predictions are there."""
    if not (spec.label_col and spec.prediction_col and spec.label_col in frame.columns
            and spec.prediction_col in frame.columns):
        return {}
    y = frame[spec.label_col].to_numpy()[rows]  # these rows only: no copy of the frame
    p = frame[spec.prediction_col].to_numpy()[rows]
    known = ~(pd.isna(y) | pd.isna(p))
    y, p = y[known], p[known]
    if not len(y):
        return {}
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


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                              thread_name_prefix="monitoring")
