"""Scoring requests in MLflow's formats, parsed into a DataFrame, with 400s that say what
is wrong (never a 500 for a client's mistake).

Accepted bodies: ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``,
``{"dataframe_records": [{...}]}``, ``{"instances": [...]}``, ``{"inputs": ...}``, each
with optional ``"params"`` and ``"client_request_id"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class PayloadError(Exception):
    def __init__(self, status: int, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code

    def body(self) -> bytes:
        return orjson.dumps({"error_code": self.code, "message": self.message})


@dataclass
class Request:
    frame: Any  # pandas DataFrame
    params: dict[str, Any] | None
    client_request_id: str | None
    fmt: str


def parse(body: bytes) -> Request:
    """The request's rows (rows given as plain lists get numbered columns)."""
    import pandas as pd

    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise PayloadError(400, f"the request body is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise PayloadError(400, "the request body must be a JSON object with one of "
                                + ", ".join(FORMATS))
    present = [f for f in FORMATS if f in doc]
    if len(present) != 1:
        raise PayloadError(400, ("the request has more than one of " if present else
                                 "the request has none of ") + ", ".join(FORMATS))
    fmt = present[0]
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError(400, "params must be a JSON object")
    crid = doc.get("client_request_id")
    if crid is not None and not isinstance(crid, str):
        raise PayloadError(400, "client_request_id must be a string")
    value = doc[fmt]
    try:
        if fmt == "dataframe_split":
            if not isinstance(value, dict) or not isinstance(value.get("data"), list):
                raise PayloadError(400, "dataframe_split needs {\"columns\": [...], "
                                        "\"data\": [[...], ...]}")
            frame = pd.DataFrame(value["data"], columns=value.get("columns"))
        elif fmt == "dataframe_records":
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise PayloadError(400, "dataframe_records must be a list of JSON objects")
            frame = pd.DataFrame.from_records(value)
        else:
            frame = _tensor_like(fmt, value)
    except PayloadError:
        raise
    except (ValueError, TypeError) as e:
        raise PayloadError(400, f"cannot read {fmt}: {e}") from None
    if len(frame) == 0:
        raise PayloadError(400, f"{fmt} has no rows")
    return Request(frame, params, crid, fmt)


def _tensor_like(fmt: str, value: Any) -> Any:
    import pandas as pd

    if isinstance(value, dict):  # columnar: {"col": [values]}
        lengths = {len(v) if isinstance(v, list) else 1 for v in value.values()}
        if len(lengths) > 1:
            raise PayloadError(400, f"{fmt}: the columns have different lengths")
        return pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()})
    if not isinstance(value, list) or not value:
        raise PayloadError(400, f"{fmt} must be a non-empty list or an object of columns")
    if all(isinstance(r, dict) for r in value):
        return pd.DataFrame.from_records(value)
    if all(isinstance(r, list) for r in value):
        if len({len(r) for r in value}) != 1:
            raise PayloadError(400, f"{fmt}: the rows have different lengths")
        return pd.DataFrame(value)
    raise PayloadError(400, f"{fmt} must hold rows as objects or as lists, not a mix")


def name_columns(req: Request, columns: list[str] | None) -> Any:
    """Rows sent as plain lists take the model's input names, in order."""
    frame = req.frame
    if columns is None or req.fmt not in ("instances", "inputs") or \
            list(frame.columns) != list(range(frame.shape[1])):
        return frame
    if frame.shape[1] != len(columns):
        raise PayloadError(400, f"{req.fmt}: each row needs {len(columns)} values "
                                f"({', '.join(columns)}), got {frame.shape[1]}")
    return frame.set_axis(columns, axis=1)


def conform(frame: Any, columns: list[str] | None, dtypes: dict[str, str] | None) -> Any:
    """The frame with the model's input columns in order and types; 400 when it cannot be."""
    if not columns:
        return frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PayloadError(400, f"missing input columns: {', '.join(map(str, missing))} "
                                f"(the model takes {', '.join(columns)})")
    out = frame[columns] if list(frame.columns) != columns else frame
    if dtypes:
        want = {c: t for c, t in dtypes.items() if str(out[c].dtype) != t}
        if want:
            try:
                out = out.astype(want)
            except (ValueError, TypeError) as e:
                raise PayloadError(400, f"input values do not fit the model's column types "
                                        f"({_describe(dtypes)}): {e}") from None
    return out


def _describe(dtypes: dict[str, str]) -> str:
    return ", ".join(f"{c} {t}" for c, t in dtypes.items())


def predictions_json(values: Any) -> Any:
    """Predictions as JSON-ready data (numpy arrays and frames included)."""
    import numpy as np
    import pandas as pd

    if isinstance(values, pd.DataFrame):
        return values.to_dict(orient="records")
    if isinstance(values, pd.Series):
        return values.tolist()
    if isinstance(values, np.ndarray):
        return values.tolist()
    return values
