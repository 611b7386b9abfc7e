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
class Rows:
    """Rows to score: a float64 matrix with its column names (the fast path: numeric
    ``dataframe_split`` bodies stay arrays until a batch becomes one DataFrame), or a
    DataFrame."""

    columns: list[Any]
    array: Any = None  # numpy float64, shape (n, len(columns))
    frame: Any = None  # pandas DataFrame

    def __len__(self) -> int:
        return len(self.array) if self.array is not None else len(self.frame)

    def to_frame(self) -> Any:
        import pandas as pd

        if self.frame is None:
            self.frame = pd.DataFrame(self.array, columns=self.columns, copy=False)
        return self.frame


@dataclass
class Request:
    rows: Rows
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
            fast = _numeric(value)
            if fast is not None:
                return Request(fast, params, crid, fmt)
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
    return Request(Rows(list(frame.columns), frame=frame), params, crid, fmt)


def _numeric(split: dict[str, Any]) -> Rows | None:
    """A numeric ``dataframe_split`` as a float64 matrix (None for anything else)."""
    import numpy as np

    columns, data = split.get("columns"), split["data"]
    if not isinstance(columns, list) or not data or not isinstance(data[0], list) or \
            any(isinstance(v, (str, bool)) for v in data[0]):
        return None
    try:
        array = np.asarray(data, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if array.ndim != 2 or array.shape[1] != len(columns):
        return None
    return Rows(columns, array=array)


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


def name_columns(req: Request, columns: list[str] | None) -> Rows:
    """Rows sent as plain lists take the model's input names, in order."""
    rows = req.rows
    if columns is None or req.fmt not in ("instances", "inputs") or \
            rows.columns != list(range(len(rows.columns))):
        return rows
    if len(rows.columns) != len(columns):
        raise PayloadError(400, f"{req.fmt}: each row needs {len(columns)} values "
                                f"({', '.join(columns)}), got {len(rows.columns)}")
    return Rows(list(columns), frame=rows.frame.set_axis(columns, axis=1))


def conform(rows: Rows, columns: list[str] | None, dtypes: dict[str, str] | None) -> Rows:
    """The rows with the model's input columns in order and types; 400 when they cannot."""
    if not columns:
        return rows
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise PayloadError(400, f"missing input columns: {', '.join(map(str, missing))} "
                                f"(the model takes {', '.join(columns)})")
    if rows.array is not None and (not dtypes or all(t == "float64" for t in dtypes.values())):
        if rows.columns == columns:
            return rows
        index = [rows.columns.index(c) for c in columns]
        return Rows(list(columns), array=rows.array[:, index])
    frame = rows.to_frame()
    out = frame[columns] if list(frame.columns) != columns else frame
    if dtypes:
        want = {c: t for c, t in dtypes.items() if str(out[c].dtype) != t}
        if want:
            try:
                out = out.astype(want)
            except (ValueError, TypeError) as e:
                raise PayloadError(400, f"input values do not fit the model's column types "
                                        f"({_describe(dtypes)}): {e}") from None
    return Rows(list(columns), frame=out)


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
