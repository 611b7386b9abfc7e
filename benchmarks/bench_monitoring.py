"""Benchmark: drift of 1,000,000 rows x 20 columns (14 numeric, 6 categorical, some with
nulls) over 7 daily windows against a 200,000-row baseline, with drift injected in 5 known
columns: a mean shift (n0), a variance change (n1), a null-rate jump (n2), a new category
(c0) and a category mix change (c1).

kiln computes profile and drift metrics for both comparisons (BASELINE and CONSECUTIVE)
with `kiln quality-monitors drift`; side by side in the same run, Evidently's
`DataDriftPreset` compares each window with the baseline (the same job it does). Both are
whole commands reading the same Parquet files, timed from start to exit. Evidently is
installed into `benchmarks/.venv-evidently` on the first run. Goal: kiln at least 20x
faster, flagging exactly the 5 drifted columns (PSI >= 0.1 or a null-rate change >= 5
points) and nothing else.

Run alone: `.venv/bin/python benchmarks/bench_monitoring.py [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

from peers import peer_python


HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
DRIFTED = ["c0", "c1", "n0", "n1", "n2"]
ROWS, BASE_ROWS, DAYS = 1_000_000, 200_000, 7

EVIDENTLY = textwrap.dedent('''
    import sys, pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    table, baseline = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
    day = table.pop("ts").dt.floor("D")
    flagged = set()
    for d in sorted(day.unique()):
        snap = Report([DataDriftPreset()]).run(reference_data=baseline,
                                               current_data=table[day == d])
        for m in snap.dict()["metrics"]:
            cfg = m.get("config") or {}
            if not str(cfg.get("type", "")).endswith("ValueDrift"):
                continue
            method, value, threshold = str(cfg.get("method", "")).lower(), m["value"], \
                cfg["threshold"]
            is_test = "p_value" in method or "test" in method  # tests: a low p-value drifts
            if (value < threshold) if is_test else (value >= threshold):
                flagged.add(cfg["column"])
    print("FLAGGED", ",".join(sorted(flagged)))
''')


def make_data(tmp: str) -> tuple[str, str]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(42)

    def frame(n: int, drift: bool, start: pd.Timestamp, days: int) -> pd.DataFrame:
        cols: dict[str, object] = {}
        for i in range(14):
            x = rng.normal(10 * i, 1 + i % 3, n)
            if drift and i == 0:
                x = x + 0.5 * (1 + i % 3)                       # mean shift
            if drift and i == 1:
                x = 10 + (x - 10) * 2.0                          # variance change
            null_rate = 0.15 if drift and i == 2 else 0.01 * (i % 4 == 2)
            x[rng.random(n) < null_rate] = np.nan                # null-rate jump on n2
            cols[f"n{i}"] = x
        for j in range(6):
            cats, p = ["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1]
            if drift and j == 0:
                cats, p = cats + ["new"], [0.32, 0.24, 0.16, 0.08, 0.2]   # a new category
            if drift and j == 1:
                p = [0.1, 0.2, 0.3, 0.4]                          # mix change
            v = rng.choice(cats, n, p=p).astype(object)
            if j == 3:
                v[rng.random(n) < 0.05] = None
            cols[f"c{j}"] = v
        f = pd.DataFrame(cols)
        f.insert(0, "ts", start + pd.to_timedelta(rng.integers(0, days * 86_400, n), unit="s"))
        return f

    table = frame(ROWS, True, pd.Timestamp("2026-11-01", tz="UTC"), DAYS)
    baseline = frame(BASE_ROWS, False, pd.Timestamp("2026-10-01", tz="UTC"), 1)
    t, b = os.path.join(tmp, "table.parquet"), os.path.join(tmp, "baseline.parquet")
    table.to_parquet(t)
    baseline.drop(columns=["ts"]).to_parquet(b)
    return t, b


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{out.stdout}\n{out.stderr}")
    return elapsed, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=os.path.join(HERE, "results", "bench_monitoring.json"))
    args = ap.parse_args()
    peer = peer_python("evidently", "evidently", "pandas<3", "pyarrow")
    tmp = tempfile.mkdtemp(prefix="kiln-bench-monitoring-")
    table, baseline = make_data(tmp)
    os.sync()  # the freshly written files are not flushed while a tool is timed
    kiln_cmd = [os.path.join(BIN, "kiln"), "quality-monitors", "drift", "--table", table,
                "--baseline", baseline, "--timestamp-col", "ts", "--granularity", "1 day",
                "--out", os.path.join(tmp, "out")]
    # kiln's few seconds move by +-1 s with this VM's noise: the median of three runs
    # (Evidently's ~2 minutes are timed once; the noise is lost in them)
    kiln_runs = sorted((timed(kiln_cmd) for _ in range(3)), key=lambda r: r[0])
    kiln_s, out = kiln_runs[1]
    kiln_flagged = re.search(r"Drifted columns .*: (.*)", out).group(1).strip().split(", ")
    script = os.path.join(tmp, "evidently_drift.py")
    with open(script, "w") as f:
        f.write(EVIDENTLY)
    peer_s, peer_out = timed([peer, script, table, baseline])
    peer_flagged = re.search(r"FLAGGED (.*)", peer_out).group(1).split(",")
    ratio = peer_s / kiln_s
    print(f"{'tool':10} {'wall s':>8}  flagged columns")
    print(f"{'kiln':10} {kiln_s:8.2f}  {', '.join(kiln_flagged)}   (median of "
          f"{', '.join(f'{r[0]:.2f}' for r in kiln_runs)})")
    print(f"{'evidently':10} {peer_s:8.2f}  {', '.join(peer_flagged)}")
    print(f"kiln is {ratio:.1f}x faster; kiln flags exactly the drifted columns: "
          f"{sorted(kiln_flagged) == DRIFTED}")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                   "rows": ROWS, "baseline_rows": BASE_ROWS, "windows": DAYS,
                   "kiln_s": kiln_s, "kiln_runs_s": [r[0] for r in kiln_runs],
                   "evidently_s": peer_s, "ratio": ratio,
                   "kiln_flagged": kiln_flagged, "evidently_flagged": peer_flagged,
                   "drifted": DRIFTED}, f, indent=2)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
