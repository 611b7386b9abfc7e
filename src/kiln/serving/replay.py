"""Shadow replay: score what an endpoint really received with a candidate model version,
off the serving path, and compare with what the endpoint answered.

The captured requests come from the endpoint's inference tables (``<prefix>_payload_unpacked``
for the rows and answers, ``<prefix>_payload`` for latencies and client request ids).
The report has the agreement rate (classification) or the error distribution (regression),
quality metrics where labels have arrived (joined on a key column), latency, and the
slices where the two disagree most. It is recorded on the model version (tags), shown in
the model card, and an approval can be made to depend on it
(``kiln.models.approvals.ReplayRule``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from kiln.errors import KilnError
from kiln.models.approvals import REPORT_TAG
from kiln.models.registry import Registry

ANSWER_COLUMNS = ("prediction", "model_id", "timestamp", "databricks_request_id")
REGRESSION_TOLERANCE = 0.05  # a regression answer "agrees" within 5% of the served one
MIN_SLICE_ROWS = 10


@dataclass
class Slice:
    column: str
    value: str
    rows: int
    agreement: float
    mean_abs_diff: float | None = None


@dataclass
class ReplayReport:
    model: str
    version: str
    endpoint: str
    since: str | None
    rows: int
    requests: int
    problem_type: str  # classification | regression
    agreement: float
    served_by: dict[str, int]
    diff: dict[str, float] = field(default_factory=dict)  # regression: |candidate - served|
    quality: dict[str, Any] = field(default_factory=dict)  # where labels arrived
    latency_ms: dict[str, float] = field(default_factory=dict)
    worst_slices: list[Slice] = field(default_factory=list)
    at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def quality_not_worse(self) -> bool | None:
        """Whether the candidate's quality on labelled traffic is at least the served one's
        (None without labels)."""
        q = self.quality
        if not q.get("labelled_rows"):
            return None
        key, higher_is_better = (("accuracy", True) if self.problem_type == "classification"
                                 else ("rmse", False))
        cand, served = q["candidate"][key], q["served"][key]
        return cand >= served if higher_is_better else cand <= served


def parse_since(text: str) -> float:
    """``24h``, ``30m``, ``7d``, ``90s`` -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not m:
        raise KilnError(f"--since {text!r}: use a number and a unit, e.g. 24h, 30m, 7d")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def replay(reg: Registry, name: str, version: str, endpoint: str, *, since: str | None = None,
           labels: str | None = None, label_col: str = "label",
           key: str = "client_request_id", problem_type: str | None = None) -> ReplayReport:
    """Replay the endpoint's captured traffic against ``name`` version ``version``, record
    the report on the version, and return it."""
    import numpy as np

    from kiln.catalog.tables import Catalog
    from kiln.serving import config as cfg
    from kiln.serving.runtime import KIND

    mv = reg.version(name, version)
    obj = reg.ws.get(KIND, endpoint)
    spec = cfg.parse(endpoint, obj.settings, obj.creator)
    if spec.capture is None:
        raise KilnError(f"serving endpoint {endpoint} has no inference table "
                        "(config.auto_capture_config): there is no traffic to replay")
    catalog = Catalog(reg.ws)
    try:
        rows = catalog.read(spec.capture.unpacked_table)
        payload = catalog.read(spec.capture.payload_table)
    except KilnError:
        raise KilnError(f"serving endpoint {endpoint} has not logged any request yet "
                        f"({spec.capture.unpacked_table} does not exist)") from None
    if since:
        import pandas as pd

        cutoff = pd.Timestamp(time.time() - parse_since(since), unit="s", tz="UTC")
        rows = rows[pd.to_datetime(rows["timestamp"], utc=True) >= cutoff]
    rows = rows[rows["prediction"].notna()].reset_index(drop=True)
    if rows.empty:
        raise KilnError(f"serving endpoint {endpoint} has no answered request"
                        + (f" in the last {since}" if since else "") + " to replay")

    model, inputs = _load(reg, mv)
    missing = [c for c in inputs if c not in rows.columns]
    if missing:
        raise KilnError(f"version {mv.version} of {mv.name} needs column {missing[0]!r}, which "
                        f"the captured requests of {endpoint} do not have")
    features = rows[inputs] if inputs else rows.drop(columns=[c for c in ANSWER_COLUMNS
                                                              if c in rows.columns])
    started = time.perf_counter()
    candidate = np.asarray(_predictions(model.predict(features)))
    scoring_s = time.perf_counter() - started
    served = rows["prediction"].to_numpy()
    kind = problem_type or _problem_type(served)
    same = _agree(kind, candidate, served)

    report = ReplayReport(
        model=mv.name, version=str(mv.version), endpoint=endpoint, since=since,
        rows=len(rows), requests=int(rows["databricks_request_id"].nunique()),
        problem_type=kind, agreement=float(same.mean()),
        served_by={str(k): int(v) for k, v in rows["model_id"].value_counts().items()},
        at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    if kind == "regression":
        diff = np.abs(candidate.astype(float) - served.astype(float))
        report.diff = {"mean": float(diff.mean()), "p50": float(np.quantile(diff, 0.5)),
                       "p90": float(np.quantile(diff, 0.9)), "max": float(diff.max())}
    answered = payload[payload["databricks_request_id"].isin(rows["databricks_request_id"])]
    report.latency_ms = {
        "served_p50_per_request": float(np.quantile(answered["execution_time_ms"], 0.5))
        if len(answered) else float("nan"),
        "candidate_per_row_batch": 1000 * scoring_s / len(rows)}
    report.worst_slices = _worst_slices(rows, features, same, kind, candidate, served)
    if labels:
        report.quality = _quality(catalog, rows, payload, labels, label_col, key, kind,
                                  candidate, served)
        report.quality["not_worse"] = report.quality_not_worse
    _record(reg, mv, report)
    return report


def _load(reg: Registry, mv: Any) -> tuple[Any, list[str]]:
    import mlflow

    from kiln.models.store import using

    with using(reg.ws.local_root()):
        model = mlflow.pyfunc.load_model(f"models:/{mv.name}/{mv.version}")
    schema = model.metadata.get_input_schema()
    inputs = list(schema.input_names()) if schema is not None and schema.has_input_names() \
        else []
    return model, inputs


def _predictions(out: Any) -> Any:
    import numpy as np

    if hasattr(out, "to_numpy"):
        out = out.to_numpy()
    out = np.asarray(out)
    return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out


def _problem_type(served: Any) -> str:
    import numpy as np

    values = served
    if values.dtype == object:
        if all(isinstance(v, (str, bool)) for v in values):
            return "classification"
        values = values.astype(float)
    if values.dtype.kind in "biu" or values.dtype == bool:
        return "classification"
    integral = np.all(np.equal(np.mod(values, 1), 0))
    return "classification" if integral and len(np.unique(values)) <= 20 else "regression"


def _agree(kind: str, candidate: Any, served: Any) -> Any:
    import numpy as np

    if kind == "classification":
        return _same_class(candidate, served)
    c, s = candidate.astype(float), served.astype(float)
    return np.abs(c - s) <= REGRESSION_TOLERANCE * np.maximum(np.abs(s), 1e-12)


def _same_class(a: Any, b: Any) -> Any:
    """Element-wise: the same class? As numbers when both sides are (so 1, 1.0, True and
    '1' are one class), else as text."""
    try:
        return a.astype(float) == b.astype(float)
    except (TypeError, ValueError):
        return a.astype(str) == b.astype(str)


def _worst_slices(rows: Any, features: Any, same: Any, kind: str, candidate: Any,
                  served: Any) -> list[Slice]:
    """Per categorical value and per numeric quartile of the request columns, the
    agreement; the five lowest (regression: ties broken by the mean |difference|)."""
    import numpy as np
    import pandas as pd

    found: list[Slice] = []
    diff = (np.abs(candidate.astype(float) - served.astype(float))
            if kind == "regression" else None)
    min_rows = max(MIN_SLICE_ROWS, len(rows) // 100)
    for col in features.columns:
        s = features[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
                and s.nunique() > 10:
            try:
                groups = pd.qcut(s, 4, duplicates="drop").astype(str)
            except ValueError:
                continue
        elif s.nunique() <= 50:
            groups = s.astype(str)
        else:
            continue
        for value, pos in groups.groupby(groups).indices.items():
            if len(pos) < min_rows:
                continue
            found.append(Slice(str(col), str(value), len(pos), float(same[pos].mean()),
                               float(diff[pos].mean()) if diff is not None else None))
    found.sort(key=lambda s: (s.agreement, -(s.mean_abs_diff or 0.0), s.column, s.value))
    return [s for s in found if s.agreement < 1.0][:5]


def _quality(catalog: Any, rows: Any, payload: Any, labels: str, label_col: str, key: str,
             kind: str, candidate: Any, served: Any) -> dict[str, Any]:
    import numpy as np

    truth = catalog.read(labels)
    if label_col not in truth.columns or key not in truth.columns:
        raise KilnError(f"label table {labels} needs columns {key!r} and {label_col!r}")
    frame = rows.assign(_candidate=list(candidate), _served=list(served))
    if key not in frame.columns:
        if key != "client_request_id":
            raise KilnError(f"the captured requests have no column {key!r} to join labels on")
        ids = payload.set_index("databricks_request_id")["client_request_id"]
        frame[key] = frame["databricks_request_id"].map(ids)
    joined = frame.merge(truth[[key, label_col]].drop_duplicates(key), on=key, how="inner")
    out: dict[str, Any] = {"labelled_rows": int(len(joined)), "label_table": labels, "key": key}
    if joined.empty:
        return out
    y = joined[label_col].to_numpy()
    for who, col in (("candidate", "_candidate"), ("served", "_served")):
        pred = joined[col].to_numpy()
        if kind == "classification":
            out[who] = {"accuracy": float(np.mean(_same_class(pred, y)))}
        else:
            err = pred.astype(float) - y.astype(float)
            out[who] = {"rmse": float(np.sqrt(np.mean(err ** 2))),
                        "mae": float(np.mean(np.abs(err)))}
    return out


def _record(reg: Registry, mv: Any, report: ReplayReport) -> None:
    doc = report.to_dict()
    reg.set_version_tags(mv.name, mv.version, {
        REPORT_TAG: json.dumps(doc, default=str),
        "kiln.replay.agreement": f"{report.agreement:.4f}",
        "kiln.replay.endpoint": report.endpoint})
    reg.ws.audit("models.replay", mv.name, {"version": str(mv.version),
                                            "endpoint": report.endpoint,
                                            "rows": report.rows,
                                            "agreement": report.agreement})


def to_text(report: ReplayReport) -> str:
    lines = [f"Replay of {report.model} v{report.version} on {report.rows} captured rows "
             f"({report.requests} requests) of endpoint {report.endpoint}"
             + (f", last {report.since}" if report.since else ""),
             "  served by: " + ", ".join(f"{k} ({v} rows)"
                                         for k, v in report.served_by.items())]
    if report.problem_type == "classification":
        lines.append(f"  agreement with what was served: {report.agreement:.3f}")
    else:
        d = report.diff
        lines.append(f"  |candidate - served|: mean {d['mean']:.4g}, p50 {d['p50']:.4g}, "
                     f"p90 {d['p90']:.4g}, max {d['max']:.4g}; within "
                     f"{REGRESSION_TOLERANCE:.0%}: {report.agreement:.3f}")
    lat = report.latency_ms
    lines.append(f"  latency: served p50 {lat['served_p50_per_request']:.1f} ms per request; "
                 f"candidate {lat['candidate_per_row_batch']:.3f} ms per row (batch)")
    q = report.quality
    if q:
        if q.get("labelled_rows"):
            metric = next(iter(q["candidate"]))
            lines.append(f"  quality on {q['labelled_rows']} labelled rows ({metric}): "
                         f"candidate {q['candidate'][metric]:.4f}, served "
                         f"{q['served'][metric]:.4f}"
                         + ("" if q.get("not_worse") else "  (worse)"))
        else:
            lines.append(f"  no labels have arrived yet in {q['label_table']}")
    if report.worst_slices:
        lines.append("  slices where they disagree most:")
        for s in report.worst_slices:
            extra = f", mean |diff| {s.mean_abs_diff:.4g}" if s.mean_abs_diff is not None else ""
            lines.append(f"    {s.column} = {s.value}: agreement {s.agreement:.3f} over "
                         f"{s.rows} rows{extra}")
    return "\n".join(lines)
