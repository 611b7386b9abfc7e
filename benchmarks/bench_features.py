"""Benchmark: a point-in-time training set, kiln against Feast, side by side in one run.

1,000,000 label rows (customer, event time) over two timeseries feature tables of
5,000,000 rows in all (100,000 customers; 30 and 20 timestamps each), lookback 30 days.
kiln: ``FeatureEngineeringClient.create_training_set`` over Delta feature tables of a
kiln workspace. Feast: ``FeatureStore.get_historical_features`` with its file offline
store (``type: file``, Feast's Dask store) over Parquet files holding the same rows (Feast installed into its own virtual
environment, ``benchmarks/.venv-feast``, from PyPI, the first time). Both are timed from
the call to a pandas DataFrame in hand; both results are compared row for row: every
row Feast returns must be kiln's, value for value. (Feast's file store leaves out some
label rows that have features in one feature view only; kiln keeps every label row, as
Databricks does. The count is printed.) Goal: kiln at least 5x faster.

Run alone: `.venv/bin/python benchmarks/bench_features.py [--labels N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from peers import peer_python

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = pd.Timestamp("2026-01-01", tz="UTC")
LOOKBACK_DAYS = 30

FEAST = r'''
import json, sys, time
from datetime import timedelta
import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig
from feast.types import Float64
from feast.infra.offline_stores.dask import DaskOfflineStoreConfig
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig


d, labels_path, out_path, lookback = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = FeatureStore(config=RepoConfig(
    project="bench", registry=f"{d}/registry.db", provider="local",
    offline_store=DaskOfflineStoreConfig(type="file"),
    online_store=SqliteOnlineStoreConfig(path=f"{d}/online.db"),
    entity_key_serialization_version=3))
customer = Entity(name="customer", join_keys=["customer_id"])
views = [FeatureView(name=name, entities=[customer], ttl=timedelta(days=lookback),
                     schema=[Field(name=col, dtype=Float64)],
                     source=FileSource(path=f"{d}/{name}.parquet", timestamp_field="ts"))
         for name, col in (("spend", "spend"), ("activity", "clicks"))]
store.apply([customer, *views])
labels = pd.read_parquet(labels_path)
t0 = time.perf_counter()
df = store.get_historical_features(entity_df=labels, features=[
    "spend:spend", "activity:clicks"]).to_df()
took = time.perf_counter() - t0
df.to_parquet(out_path)
print(json.dumps({"seconds": took}))
'''


def data(n_labels: int, customers: int = 100_000) -> tuple[pd.DataFrame, pd.DataFrame,
                                                            pd.DataFrame]:
    rng = np.random.default_rng(7)

    def table(per: int, col: str) -> pd.DataFrame:
        ids = np.repeat(np.arange(customers), per)
        # distinct times per customer: a shuffled grid of hours over 120 days
        hours = np.concatenate([rng.choice(120 * 24, per, replace=False)
                                for _ in range(customers)])
        return pd.DataFrame({"customer_id": ids.astype("int64"),
                             "ts": T0 + pd.to_timedelta(hours, unit="h"),
                             col: rng.normal(size=len(ids)).round(6)})

    spend, activity = table(30, "spend"), table(20, "clicks")
    labels = pd.DataFrame({
        "customer_id": rng.integers(0, customers + 1000, n_labels).astype("int64"),
        "event_timestamp": T0 + pd.to_timedelta(rng.integers(0, 150 * 24 * 60, n_labels),
                                                unit="min"),
        "label": rng.integers(0, 2, n_labels)})
    return labels, spend, activity


def run_kiln(tmp: str, labels: pd.DataFrame, spend: pd.DataFrame,
             activity: pd.DataFrame) -> tuple[float, pd.DataFrame]:
    from datetime import timedelta

    os.environ["KILN_WORKSPACE_DIR"] = os.path.join(tmp, "ws")
    os.environ["KILN_USER"] = "bench@example.com"
    from kiln.catalog import Catalog
    from kiln.features.client import FeatureEngineeringClient, FeatureLookup
    from kiln.workspace.local import WorkspaceHome

    ws = WorkspaceHome(tmp).open("ws", "bench@example.com")
    os.environ["KILN_WORKSPACE_DIR"] = ws.local_root()
    Catalog(ws).create_catalog("main")
    Catalog(ws).create_schema("main", "fs")
    fe = FeatureEngineeringClient()
    fe.create_table(name="main.fs.spend", primary_keys=["customer_id", "ts"],
                    timeseries_column="ts", df=spend)
    fe.create_table(name="main.fs.activity", primary_keys=["customer_id", "ts"],
                    timeseries_column="ts", df=activity)
    lookback = timedelta(days=LOOKBACK_DAYS)
    t0 = time.perf_counter()
    ts = fe.create_training_set(df=labels, label="label", feature_lookups=[
        FeatureLookup("main.fs.spend", "customer_id", timestamp_lookup_key="event_timestamp",
                      lookback_window=lookback),
        FeatureLookup("main.fs.activity", "customer_id",
                      timestamp_lookup_key="event_timestamp", lookback_window=lookback)])
    out = ts.load_df()
    return time.perf_counter() - t0, out


def compare(kiln: pd.DataFrame, feast: pd.DataFrame) -> tuple[bool, int, int]:
    """(every row Feast returns is kiln's, value for value; how many label rows Feast
    left out; how many of those kiln found features for)."""
    cols = ["customer_id", "event_timestamp", "label", "spend", "clicks"]

    def norm(df: pd.DataFrame) -> pd.DataFrame:
        df = df[cols].copy()
        df["event_timestamp"] = pd.to_datetime(df["event_timestamp"], utc=True).astype(
            "datetime64[ns, UTC]")
        return df

    x, y = norm(kiln), norm(feast)
    m = x.merge(y, on=cols[:3], how="outer", indicator=True, suffixes=("", "_feast"))
    both = m[m["_merge"] == "both"]
    same = (m["_merge"] != "right_only").all() and all(
        np.allclose(both[c].to_numpy(float), both[c + "_feast"].to_numpy(float),
                    equal_nan=True) for c in ("spend", "clicks"))
    dropped = m[m["_merge"] == "left_only"]
    return bool(same), len(dropped), int(dropped[["spend", "clicks"]].notna().any(axis=1).sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    labels, spend, activity = data(args.labels, args.customers)
    python = peer_python("feast", "feast")
    with tempfile.TemporaryDirectory() as tmp:
        spend.to_parquet(os.path.join(tmp, "spend.parquet"))
        activity.to_parquet(os.path.join(tmp, "activity.parquet"))
        labels.to_parquet(os.path.join(tmp, "labels.parquet"))
        kiln_s, kiln_df = run_kiln(tmp, labels, spend, activity)
        proc = subprocess.run([python, "-c", FEAST, tmp, os.path.join(tmp, "labels.parquet"),
                               os.path.join(tmp, "feast.parquet"), str(LOOKBACK_DAYS)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit("feast failed:\n" + proc.stderr[-3000:])
        feast_s = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
        feast_df = pd.read_parquet(os.path.join(tmp, "feast.parquet"))
    identical, dropped, dropped_matched = compare(kiln_df, feast_df)
    print(f"point-in-time training set: {args.labels:,} labels, "
          f"{len(spend) + len(activity):,} feature rows ({platform.node()}, "
          f"{os.cpu_count()} cores)")
    print(f"  kiln  {kiln_s:8.2f} s")
    print(f"  feast {feast_s:8.2f} s")
    print(f"  ratio {feast_s / kiln_s:8.1f}x (goal >= 5x)")
    print(f"  every row Feast returns is identical in kiln's: {identical}; kiln keeps all "
          f"{len(kiln_df):,} label rows, Feast left out {dropped:,} ({dropped_matched:,} of "
          "them with features in one table only)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"kiln_s": kiln_s, "feast_s": feast_s, "identical": identical,
                       "feast_dropped": dropped}, f)
    sys.exit(0 if identical else 1)


if __name__ == "__main__":
    main()
