"""Monitors on a real embedded workspace: snapshot monitors, windows, refusals."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kiln.catalog import Catalog
from kiln.errors import KilnError
from kiln.monitoring.compute import window_starts
from kiln.monitoring.monitor import Monitors
from kiln.workspace.local.workspace import LocalWorkspace


@pytest.fixture
def ws(tmp_path: Path) -> LocalWorkspace:
    w = LocalWorkspace("dev", str(tmp_path / "dev"), "alice")
    w.create("schemas", "ml", {"name": "ml", "catalog_name": "main"})
    return w


def test_snapshot_monitor_profiles_the_whole_table_at_each_refresh(ws: LocalWorkspace) -> None:
    rng = np.random.default_rng(1)
    cat = Catalog(ws)
    cat.write("main.ml.base", pd.DataFrame({"v": rng.normal(0, 1, 500),
                                            "k": rng.choice(["a", "b"], 500)}))
    cat.write("main.ml.now", pd.DataFrame({"v": rng.normal(3, 1, 400),
                                           "k": rng.choice(["a", "b"], 400)}))
    ws.create("quality_monitors", "main.ml.now", {
        "table_name": "main.ml.now", "output_schema_name": "main.ml", "assets_dir": "/x",
        "baseline_table_name": "main.ml.base", "snapshot": {}})
    monitors = Monitors(ws)
    assert monitors.refresh("main.ml.now").windows_computed == 1
    time.sleep(1.1)
    assert monitors.refresh("main.ml.now").windows_computed == 1
    profile = cat.read("main.ml.now_profile_metrics")
    table_rows = profile[profile.column_name == ":table"]
    assert table_rows["count"].tolist() == [400, 400]
    assert set(profile.granularity) == {"snapshot"} and "__snapshot_time" not in \
        set(profile.column_name)
    drift = cat.read("main.ml.now_drift_metrics")
    psi = drift[(drift.drift_type == "BASELINE")].groupby("column_name")[
        "population_stability_index"].max()
    assert psi["v"] > 1 and psi["k"] < 0.1
    assert [r["state"] for r in monitors.refreshes("main.ml.now")] == ["SUCCESS", "SUCCESS"]


def test_refusals_are_clear_and_recorded(ws: LocalWorkspace) -> None:
    with pytest.raises(KilnError, match="table main.ml.t has no quality monitor"):
        Monitors(ws).get("main.ml.t")
    Catalog(ws).write("main.ml.t", pd.DataFrame({"v": [1.0]}))
    ws.create("quality_monitors", "main.ml.t", {
        "table_name": "main.ml.t", "output_schema_name": "main.ml", "assets_dir": "/x",
        "time_series": {"timestamp_col": "ts", "granularities": ["1 day"]}})
    with pytest.raises(KilnError, match="refresh of the monitor on main.ml.t failed: the "
                                        "table has no timestamp column 'ts'"):
        Monitors(ws).refresh("main.ml.t")
    assert Monitors(ws).refreshes("main.ml.t")[0]["state"] == "FAILED"
    with pytest.raises(KilnError, match="invalid granularity '1 fortnight'"):
        window_starts(pd.Series(pd.to_datetime(["2026-11-02"], utc=True)), "1 fortnight")


def test_windows_align_to_the_epoch_weeks_and_months() -> None:
    ts = pd.Series(pd.to_datetime(["2026-11-04 13:05", "2026-11-30 23:59"], utc=True))
    assert window_starts(ts, "1 day").dt.strftime("%Y-%m-%d").tolist() == \
        ["2026-11-04", "2026-11-30"]
    assert window_starts(ts, "1 week").dt.strftime("%Y-%m-%d").tolist() == \
        ["2026-11-02", "2026-11-30"]  # Mondays
    assert window_starts(ts, "1 month").dt.strftime("%Y-%m-%d").tolist() == \
        ["2026-11-01", "2026-11-01"]
    assert window_starts(ts, "30 minutes").dt.strftime("%H:%M").tolist() == ["13:00", "23:30"]


def test_whole_table_rows_have_null_slices_in_both_metric_tables(ws: LocalWorkspace) -> None:
    """As Databricks writes them: slice_key and slice_value are NULL on rows over the
    whole table; a slice's rows name it. Queries filter with slice_key IS NULL."""
    rng = np.random.default_rng(2)
    cat = Catalog(ws)
    cat.write("main.ml.base2", pd.DataFrame({"v": rng.normal(0, 1, 300),
                                             "k": rng.choice(["a", "b"], 300)}))
    cat.write("main.ml.now2", pd.DataFrame({"v": rng.normal(0, 1, 300),
                                            "k": rng.choice(["a", "b"], 300)}))
    ws.create("quality_monitors", "main.ml.now2", {
        "table_name": "main.ml.now2", "output_schema_name": "main.ml", "assets_dir": "/x",
        "baseline_table_name": "main.ml.base2", "snapshot": {}, "slicing_exprs": ["k"]})
    Monitors(ws).refresh("main.ml.now2")
    for table in ("main.ml.now2_profile_metrics", "main.ml.now2_drift_metrics"):
        frame = cat.read(table)
        whole = frame[frame.slice_key.isna()]
        assert len(whole) and whole.slice_value.isna().all(), table
        assert ":all" not in set(frame.slice_key.dropna()) | set(frame.slice_value.dropna())
        assert set(frame.slice_key.dropna()) == {"k"}
        assert set(frame.slice_value.dropna()) == {"a", "b"}
    rows = cat.sql("SELECT count(*) AS n FROM main.ml.now2_profile_metrics "
                   "WHERE slice_key IS NULL AND column_name = ':table'").to_pylist()
    assert rows == [{"n": 1}]
    # alert rules read only the whole-table rows: a slice's drift does not fire them
    from kiln.monitoring.monitor import violations

    drift = cat.read("main.ml.now2_drift_metrics")
    profile = cat.read("main.ml.now2_profile_metrics")
    whole = drift[drift.slice_key.isna() & (drift.column_name == "v")]
    psi = float(whole.population_stability_index.iloc[0])
    sliced = drift.copy()
    sliced.loc[sliced.slice_key.notna(), "population_stability_index"] = psi + 10
    rule = {"metric": "population_stability_index", "op": ">", "threshold": psi}
    assert violations(sliced, profile, rule) == set()
    assert violations(sliced, profile, {**rule, "threshold": psi - 1e-9}) == {"v"}


def test_consecutive_drift_needs_the_adjacent_window(ws: LocalWorkspace) -> None:
    """Days 1, 2 and 4 of data: day 2 is compared with day 1; day 4 has no day 3 before
    it, so it has no CONSECUTIVE drift (as Databricks computes it)."""
    rng = np.random.default_rng(3)
    cat = Catalog(ws)
    days = ["2026-11-01", "2026-11-02", "2026-11-04"]
    cat.write("main.ml.gaps", pd.DataFrame({
        "ts": pd.to_datetime([f"{d}T12:00:00Z" for d in days for _ in range(100)]),
        "v": rng.normal(0, 1, 300)}))
    ws.create("quality_monitors", "main.ml.gaps", {
        "table_name": "main.ml.gaps", "output_schema_name": "main.ml", "assets_dir": "/x",
        "time_series": {"timestamp_col": "ts", "granularities": ["1 day"]}})
    Monitors(ws).refresh("main.ml.gaps")
    drift = cat.read("main.ml.gaps_drift_metrics")
    consecutive = drift[(drift.drift_type == "CONSECUTIVE") & (drift.column_name == "v")]
    starts = sorted(str(w["start"])[:10] for w in consecutive["window"])
    assert starts == ["2026-11-02"]


def test_one_refresh_at_a_time_per_monitor(ws: LocalWorkspace) -> None:
    """A refresh while another one holds the monitor is refused clearly; ids never repeat."""
    from kiln.errors import Conflict

    cat = Catalog(ws)
    cat.write("main.ml.busy", pd.DataFrame({
        "ts": pd.to_datetime(["2026-11-01T12:00:00Z"] * 50), "v": np.arange(50.0)}))
    ws.create("quality_monitors", "main.ml.busy", {
        "table_name": "main.ml.busy", "output_schema_name": "main.ml", "assets_dir": "/x",
        "time_series": {"timestamp_col": "ts", "granularities": ["1 day"]}})
    running = ws.acquire_lock("quality_monitors/main.ml.busy", "refresh")  # one is running
    with pytest.raises(Conflict, match="is running"):
        Monitors(ws).refresh("main.ml.busy")
    ws.release_lock(running.state_id, running.lock_id)
    Monitors(ws).refresh("main.ml.busy")
    Monitors(ws).refresh("main.ml.busy")
    assert [r["refresh_id"] for r in Monitors(ws).refreshes("main.ml.busy")] == [1, 2]
