"""Point-in-time lookups: each row of a DataFrame gets the features of the feature table's
row with the same keys, and, for a timeseries feature table, the latest such row whose
timestamp is at or before the row's own (``timestamp_lookup_key``), no older than the
lookback window. A row without a match keeps its place and gets the default values (or
nulls). Pure pandas: the same rows whatever engine wrote the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd

from kiln.errors import KilnError


@dataclass(frozen=True)
class Lookup:
    """One feature table's lookup, resolved: the table's columns, the DataFrame's."""

    table: str
    primary_keys: tuple[str, ...]  # the table's keys, without the timeseries column
    lookup_keys: tuple[str, ...]  # the DataFrame's columns matching them, in order
    features: tuple[str, ...]  # the table's feature columns to bring
    outputs: tuple[str, ...]  # their names in the result
    timeseries_column: str | None = None
    timestamp_lookup_key: str | None = None
    lookback: timedelta | None = None
    defaults: dict[str, Any] = field(default_factory=dict)  # by output name


def join(df: pd.DataFrame, features: pd.DataFrame, lookup: Lookup) -> pd.DataFrame:
    """``df`` with ``lookup``'s features added, row for row (its order and index kept)."""
    missing = [k for k in lookup.lookup_keys + ((lookup.timestamp_lookup_key,)
                                                if lookup.timestamp_lookup_key else ())
               if k not in df.columns]
    if missing:
        raise KilnError(f"lookup key {missing[0]!r} of the lookup on {lookup.table} is not a "
                        f"column of the DataFrame (columns: {', '.join(map(str, df.columns))})")
    clash = [o for o in lookup.outputs if o in df.columns]
    if clash:
        raise KilnError(f"feature {clash[0]!r} of {lookup.table} would overwrite a column of "
                        "the DataFrame: rename it with rename_outputs")
    if list(features.index.names) == list(lookup.primary_keys) and \
            not lookup.timestamp_lookup_key:  # rows indexed by key (the online store)
        return _by_index(df, features, lookup)
    left = df.reset_index(drop=True)
    left["__row"] = range(len(left))
    right = features[list(lookup.primary_keys) + ([lookup.timeseries_column]
                                                   if lookup.timeseries_column else [])
                     + list(lookup.features)]
    right = right.rename(columns=dict(zip(lookup.features, lookup.outputs)))
    right = right.rename(columns=dict(zip(lookup.primary_keys, lookup.lookup_keys)))
    keys = list(lookup.lookup_keys)
    _check_key_types(left, right, keys, lookup.table)
    if lookup.timeseries_column and lookup.timestamp_lookup_key:
        found = _as_of(left, right, keys, lookup)
    else:
        if lookup.timeseries_column:  # no timestamp to look up with: the latest row per key
            right = right.sort_values(lookup.timeseries_column).drop_duplicates(keys, keep="last")
            right = right.drop(columns=[lookup.timeseries_column])
        found = left[keys + ["__row"]].merge(right, on=keys, how="left")
    found = found.set_index("__row").reindex(range(len(left)))
    out = df.copy()
    for name in lookup.outputs:
        values = found[name].to_numpy()
        column = pd.Series(values, index=df.index, name=name)
        if name in lookup.defaults:
            column = column.where(found[name].notna().to_numpy(), lookup.defaults[name])
        out[name] = column
    return out


def _by_index(df: pd.DataFrame, features: pd.DataFrame, lookup: Lookup) -> pd.DataFrame:
    """The lookup as a keyed read of rows indexed by their primary keys: no join."""
    keys = list(lookup.lookup_keys)
    if len(keys) == 1:
        wanted: Any = pd.Index(df[keys[0]])
        if len(df) and len(features) and \
                _KINDS.get(wanted.dtype.kind) != _KINDS.get(features.index.dtype.kind):
            raise KilnError(f"lookup key {keys[0]!r} is {wanted.dtype} in the DataFrame but "
                            f"{features.index.dtype} in {lookup.table}: the primary key's "
                            "type must match")
    else:
        wanted = pd.MultiIndex.from_frame(df[keys])
    found = features.reindex(wanted)[list(lookup.features)]
    out = df.copy()
    for feature, name in zip(lookup.features, lookup.outputs):
        column = pd.Series(found[feature].to_numpy(), index=df.index, name=name)
        if name in lookup.defaults:
            column = column.where(column.notna(), lookup.defaults[name])
        out[name] = column
    return out


def _as_of(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], lookup: Lookup
           ) -> pd.DataFrame:
    ts, lts = lookup.timeseries_column, lookup.timestamp_lookup_key
    assert ts is not None and lts is not None
    probe = left[keys + [lts, "__row"]].copy()
    # one time unit on both sides (Delta reads give microseconds, pandas makes nanoseconds)
    probe["__t"] = pd.to_datetime(probe[lts], utc=True).astype("datetime64[ns, UTC]")
    table = right.copy()
    table["__t"] = pd.to_datetime(table[ts], utc=True).astype("datetime64[ns, UTC]")
    table = table.drop(columns=[ts])
    # merge_asof needs sorted, non-null times and keys of one type on both sides
    usable = probe["__t"].notna() & probe[keys].notna().all(axis=1)
    probe_ok = probe[usable].sort_values("__t", kind="stable")
    table = table[table["__t"].notna()].sort_values("__t", kind="stable")
    for k in keys:
        if probe_ok[k].dtype != table[k].dtype:
            table[k] = table[k].astype(probe_ok[k].dtype)  # the same kind: int32 and int64
    matched = pd.merge_asof(probe_ok, table, on="__t", by=keys, direction="backward",
                            allow_exact_matches=True, tolerance=lookup.lookback)
    rest = probe[~usable]
    return pd.concat([matched, rest], ignore_index=True).drop(columns=["__t"])


_KINDS = {"i": "number", "u": "number", "f": "number", "b": "boolean", "M": "timestamp",
          "O": "string", "U": "string", "S": "string"}


def _check_key_types(left: pd.DataFrame, right: pd.DataFrame, keys: list[str],
                     table: str) -> None:
    """Keys match only within one kind (numbers, strings, ...): anything else is an error,
    not a silent miss."""
    for k in keys:
        a, b = left[k].dtype, right[k].dtype
        if len(left) and len(right) and _KINDS.get(a.kind, a.kind) != _KINDS.get(b.kind, b.kind):
            raise KilnError(f"lookup key {k!r} is {a} in the DataFrame but {b} in {table}: "
                            "the primary key's type must match")
