"""An HTML report of a monitor's metrics over time: drift per column and window (PSI, JS
distance, null share change against the baseline) and the profile of each column, as
matplotlib charts embedded in one self-contained page."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import pandas as pd

DRIFT_PLOTS = (("population_stability_index", "PSI against the baseline"),
               ("js_distance", "Jensen-Shannon distance against the baseline"),
               ("percent_null_delta", "Null share change against the baseline (points)"))


def render(table: str, profile: pd.DataFrame, drift: pd.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def chart(frame: pd.DataFrame, metric: str, title: str) -> str:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        for column, part in frame.groupby("column_name"):
            part = part.sort_values("start")
            ax.plot(part["start"], part[metric], marker="o", label=str(column))
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=4)
        fig.autofmt_xdate()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        return (f"<img alt='{html.escape(title)}' src='data:image/png;base64,"
                f"{base64.b64encode(buf.getvalue()).decode()}'>")

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Monitor report: "
             f"{html.escape(table)}</title></head><body style='font-family:sans-serif'>",
             f"<h1>Monitor report: {html.escape(table)}</h1>"]
    d = _overall(drift)
    if not d.empty:
        d = d[d["drift_type"] == "BASELINE"]
        parts.append("<h2>Drift</h2>")
        for metric, title in DRIFT_PLOTS:
            if d[metric].notna().any():
                parts.append(chart(d, metric, title))
    p = _overall(profile)
    if not p.empty:
        parts.append("<h2>Profile</h2>")
        numeric = p[p["avg"].notna()]
        if not numeric.empty:
            parts.append(chart(numeric, "avg", "Mean per window"))
        parts.append(chart(p[p["column_name"] != ":table"], "percent_null",
                           "Null share per window (%)"))
        quality = [q for q in ("accuracy", "f1", "roc_auc", "rmse", "r2")
                   if q in p and p[q].notna().any()]
        for q in quality:
            parts.append(chart(p[p["column_name"] == ":table"], q, f"{q} per window"))
    parts.append("</body></html>")
    return "\n".join(parts)


def _overall(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    out = frame[(frame["model_id"] == ":all") & frame["slice_key"].isna()].copy()
    out = out[out["granularity"] == out["granularity"].iloc[0]] if not out.empty else out
    out["start"] = out["window"].map(lambda w: w["start"])
    return out


def for_monitor(monitors: Any, table: str) -> str:
    from kiln.monitoring.monitor import metric_tables

    settings = monitors.get(table)
    profile_table, drift_table = metric_tables(settings)
    return render(settings["table_name"], monitors.catalog.read(profile_table),
                  monitors.catalog.read(drift_table))
