"""Quality monitors of a workspace: refresh (metric tables, incrementally), refresh
history, and alert rules that start a job or call a webhook.

A monitor is the deployed ``quality_monitors`` object keyed by its table. A refresh reads
the table (and the baseline table), computes the windows it has not computed before plus
the newest one it had (which may have grown), and rewrites
``<output schema>.<table>_profile_metrics`` and ``..._drift_metrics`` with the old rows of
untouched windows and the new ones: every refresh is one Delta version of each table.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from kiln.catalog import Catalog, parse_name
from kiln.catalog.grants import Grants
from kiln.errors import Conflict, KilnError
from kiln.monitoring import tables as mt
from kiln.monitoring.compute import SNAPSHOT, SNAPSHOT_TIME, Spec, compute
from kiln.workspace import LockHeld, NotFound, Workspace

KIND = "quality_monitors"
HISTORY_KEEP = 100


@dataclass
class RefreshInfo:
    refresh_id: int
    table: str
    state: str  # RUNNING | SUCCESS | FAILED
    start_time_ms: int
    end_time_ms: int
    windows_computed: int = 0
    message: str = ""
    alerts: list[dict[str, Any]] = field(default_factory=list)


def spec_of(settings: dict[str, Any]) -> Spec:
    log = settings.get("inference_log")
    series = settings.get("time_series")
    if log:
        problem = str(log.get("problem_type", "")).removeprefix("PROBLEM_TYPE_").lower()
        return Spec(log["timestamp_col"], tuple(log["granularities"]), log.get("model_id_col"),
                    log.get("prediction_col"), log.get("label_col"), problem,
                    tuple(settings.get("slicing_exprs") or ()))
    if series:
        return Spec(series["timestamp_col"], tuple(series["granularities"]),
                    slicing_exprs=tuple(settings.get("slicing_exprs") or ()))
    if settings.get("snapshot") is not None:
        return Spec(SNAPSHOT_TIME, (SNAPSHOT,),
                    slicing_exprs=tuple(settings.get("slicing_exprs") or ()))
    raise KilnError(f"quality monitor on {settings.get('table_name')}: give one of "
                    "inference_log, time_series or snapshot")


def metric_tables(settings: dict[str, Any]) -> tuple[str, str]:
    table = parse_name(str(settings["table_name"]))
    out = str(settings["output_schema_name"])
    return f"{out}.{table.name}_profile_metrics", f"{out}.{table.name}_drift_metrics"


class Monitors:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.catalog = Catalog(ws)

    def get(self, table: str) -> dict[str, Any]:
        name = str(parse_name(table))
        try:
            obj = self.ws.get(KIND, name)
        except NotFound:
            raise NotFound(f"table {name} has no quality monitor in workspace "
                           f"{self.ws.name}") from None
        profile, drift = metric_tables(obj.settings)
        return {**obj.settings, "profile_metrics_table_name": profile,
                "drift_metrics_table_name": drift, "status": "MONITOR_STATUS_ACTIVE"}

    # Unity Catalog's quality monitors API: create, update, delete ---------------------
    def create(self, table: str, settings: dict[str, Any]) -> dict[str, Any]:
        """A monitor on ``table`` (one per table). As on Databricks, it takes managing the
        table (its owner, an owner above it, or MANAGE) and using the output schema; the
        table and the output schema must exist and the settings must name one profile."""
        name = str(parse_name(table))
        settings = self._checked(name, settings)
        self.ws.create(KIND, name, settings)
        self.ws.audit("quality_monitors.create", name)
        return self.get(name)

    def update(self, table: str, settings: dict[str, Any]) -> dict[str, Any]:
        """The monitor's settings replaced (``update`` sends them whole, but for its
        ``assets_dir``, which cannot change)."""
        current = self.get(table)
        name = str(current["table_name"])
        settings = self._checked(name, {**settings, "assets_dir": current.get("assets_dir")})
        self.ws.update(KIND, name, name, settings)
        self.ws.audit("quality_monitors.update", name)
        return self.get(name)

    def delete(self, table: str) -> None:
        """The monitor goes; its metric tables stay, as on Databricks."""
        name = str(self.get(table)["table_name"])
        Grants(self.ws).require_manage("table", name)
        self.ws.delete(KIND, name)
        self.ws.audit("quality_monitors.delete", name)

    def _checked(self, name: str, settings: dict[str, Any]) -> dict[str, Any]:
        settings = {k: v for k, v in settings.items() if v is not None}
        settings["table_name"] = name
        for field_name in ("output_schema_name", "assets_dir"):
            if not isinstance(settings.get(field_name), str) or not settings[field_name]:
                raise KilnError(f"quality monitor on {name}: {field_name} is required")
        spec_of(settings)
        grants = Grants(self.ws)
        grants.require_use(name)
        if self.catalog.table_info(name) is None:
            raise NotFound(f"table {name} does not exist in workspace {self.ws.name}")
        grants.require_manage("table", name)
        out = str(settings["output_schema_name"]).split(".")
        if len(out) != 2 or self.catalog.schema(out[0], out[1]) is None:
            raise NotFound(f"quality monitor on {name}: output schema "
                           f"{settings['output_schema_name']} does not exist")
        grants.require("schema", ".".join(out).lower(), "CREATE_TABLE")
        return settings

    def refreshes(self, table: str) -> list[dict[str, Any]]:
        return self.ws.monitor_refreshes(str(parse_name(table)), HISTORY_KEEP)

    def refresh(self, table: str) -> RefreshInfo:
        """One refresh at a time per monitor (a second one is refused while the first
        runs): its id, windows and metric tables are written under the monitor's lock."""
        settings = self.get(table)
        name = str(parse_name(table))
        try:
            lock = self.ws.acquire_lock(f"quality_monitors/{name}", "refresh")
        except LockHeld:
            raise Conflict(f"a refresh of the monitor on {name} is running; wait for it "
                           f"(kiln quality-monitors list-refreshes {name})") from None
        try:
            return self._refresh_locked(name, settings)
        finally:
            self.ws.release_lock(lock.state_id, lock.lock_id)

    def _refresh_locked(self, name: str, settings: dict[str, Any]) -> RefreshInfo:
        info = RefreshInfo(0, name, "RUNNING", _now(), 0)
        info.refresh_id = self.ws.add_monitor_refresh(name, info.__dict__)
        try:
            info.windows_computed = self._refresh(name, settings)
            info.alerts = self._alerts(settings)
            info.state = "SUCCESS"
        except KilnError as e:
            info.state, info.message = "FAILED", str(e)
        except BaseException as e:  # a bug or Ctrl-C: the refresh is not left RUNNING
            info.state, info.message = "FAILED", f"interrupted: {type(e).__name__}"
            info.end_time_ms = _now()
            self.ws.update_monitor_refresh(name, info.refresh_id, info.__dict__)
            raise
        info.end_time_ms = _now()
        self.ws.update_monitor_refresh(name, info.refresh_id, info.__dict__)
        self.ws.audit("quality_monitors.refresh", name, {
            "refresh_id": info.refresh_id, "state": info.state, "message": info.message,
            "alerts": [a["name"] for a in info.alerts]})
        if info.state == "FAILED":
            raise KilnError(f"refresh of the monitor on {name} failed: {info.message}")
        return info

    def _refresh(self, name: str, settings: dict[str, Any]) -> int:
        spec = spec_of(settings)
        frame = self.catalog.read(name)
        if spec.timestamp_col == SNAPSHOT_TIME:  # the whole table, as of now
            frame[SNAPSHOT_TIME] = pd.Timestamp(_now(), unit="ms", tz="UTC")
        baseline = (self.catalog.read(settings["baseline_table_name"])
                    if settings.get("baseline_table_name") else None)
        done = self.ws.monitor_windows(name)
        newest = {}
        for gran, start in done:
            newest[gran] = max(newest.get(gran, start), start)
        skip = frozenset(w for w in done if newest.get(w[0]) != w[1])
        spec = Spec(**{**spec.__dict__, "skip_windows": skip})
        profile, drift = compute(frame, baseline, spec)
        computed = {(r["granularity"], r["window_start"].isoformat()) for r in profile}
        profile_table, drift_table = metric_tables(settings)
        self._rewrite(profile_table, profile, computed, mt.PROFILE_SCHEMA)
        self._rewrite(drift_table, drift, computed, mt.DRIFT_SCHEMA)
        self.ws.add_monitor_windows(name, computed)
        return len(computed)

    def _rewrite(self, table: str, rows: list[dict[str, Any]], computed: set[tuple[str, str]],
                 schema: Any) -> None:
        new = mt.to_arrow(rows, schema)
        try:
            old = self.catalog.read(table, as_arrow=True)
        except KilnError:
            old = None
        if old is not None:
            keep = [(g, w.isoformat()) not in computed for g, w in zip(
                old.column("granularity").to_pylist(),
                (pd.Timestamp(r["start"]) for r in old.column("window").to_pylist()))]
            import pyarrow as pa

            new = pa.concat_tables([old.filter(pa.array(keep, pa.bool_())), new])
        self.catalog.write(table, new, mode="overwrite")

    # alerts ------------------------------------------------------------------------
    def _alerts(self, settings: dict[str, Any]) -> list[dict[str, Any]]:
        fired = []
        rules = settings.get("alerts") or []
        if not rules:
            return fired
        profile_table, drift_table = metric_tables(settings)
        drift = self.catalog.read(drift_table)
        profile = self.catalog.read(profile_table)
        for rule in rules:
            hit = violations(drift, profile, rule)
            if not hit:
                continue
            event: dict[str, Any] = {"name": rule["name"], "columns": sorted(hit),
                                     "metric": rule["metric"]}
            if rule.get("run_job_id") is not None:
                from kiln.jobs.detached import start

                event["run_id"] = start(self.ws, int(rule["run_job_id"]),
                                        rule.get("job_parameters") or {})
            if rule.get("webhook_url"):
                event["webhook_status"] = _post(rule["webhook_url"], {
                    "alert": rule["name"], "table": settings["table_name"],
                    "metric": rule["metric"], "columns": event["columns"]})
            self.ws.audit("quality_monitors.alert", str(settings["table_name"]), event)
            fired.append(event)
        return fired


def violations(drift: pd.DataFrame, profile: pd.DataFrame, rule: dict[str, Any]) -> set[str]:
    """Columns whose metric broke the rule in at least ``windows`` of the last ``of_last``
    windows (of the first granularity, over all rows: model ``:all``, no slice)."""
    metric = rule["metric"]
    is_drift = metric in mt.DRIFT_METRICS
    frame = drift if is_drift else profile
    if frame.empty:
        return set()
    frame = frame[(frame["model_id"] == ":all") & frame["slice_key"].isna()]
    if is_drift:
        frame = frame[frame["drift_type"] == (rule.get("drift_type") or "BASELINE")]
    if frame.empty:
        return set()
    frame = frame[frame["granularity"] == frame["granularity"].iloc[0]]
    if rule.get("columns"):
        frame = frame[frame["column_name"].isin(rule["columns"])]
    values = frame[metric].map(mt.metric_value(metric))
    starts = frame["window"].map(lambda w: w["start"])
    last = sorted(starts.unique())[-int(rule.get("of_last") or 1):]
    op = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
          "<=": lambda a, b: a <= b}[rule.get("op") or ">="]
    bad = frame.assign(v=values, s=starts)
    bad = bad[bad["s"].isin(last) & bad["v"].notna()]
    bad = bad[op(bad["v"], float(rule["threshold"]))]
    counts = bad.groupby("column_name")["s"].nunique()
    return set(counts[counts >= int(rule.get("windows") or 1)].index)


def _post(url: str, doc: dict[str, Any]) -> int:
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except OSError as e:
        return int(getattr(e, "code", 0) or 0)


def _now() -> int:
    return int(time.time() * 1000)
