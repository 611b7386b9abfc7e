"""Inference tables: every request and response of an endpoint, appended to Delta tables
in batches by a background thread, off the request path.

``<prefix>_payload`` has Databricks' inference table columns; ``<prefix>_payload_unpacked``
has one row per prediction (every column the request sent, ``prediction``, ``model_id``,
``timestamp``, ``databricks_request_id``), ready for a quality monitor.

The buffer is bounded: when the table cannot keep up, records are dropped and counted
(metric ``kiln_inference_capture_dropped_total`` and a log line), never blocking a request.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

import orjson

from kiln.serving.config import CaptureSpec

log = logging.getLogger("kiln.serving")

PAYLOAD_COLUMNS = ("databricks_request_id", "client_request_id", "date", "timestamp_ms",
                   "status_code", "execution_time_ms", "request", "response",
                   "served_entity_id", "requester", "sampling_fraction")


@dataclass
class Record:
    request_id: str
    client_request_id: str | None
    timestamp_ms: int
    status_code: int
    execution_time_ms: int
    request: bytes
    response: bytes
    served_entity_id: str | None
    requester: str
    frame: Any = None  # the scored Rows (200s only), for the unpacked table
    predictions: Any = None


class CaptureWriter:
    def __init__(self, spec: CaptureSpec, write: Callable[[dict[str, Any]], None],
                 max_buffer: int = 100_000, flush_every_s: float = 2.0,
                 on_drop: Callable[[int], None] | None = None) -> None:
        self.spec = spec
        self.write = write  # (packed batch) -> None: appends it to the tables
        self.max_buffer = max_buffer
        self.flush_every_s = flush_every_s
        self.on_drop = on_drop
        self.buffer: collections.deque[Record] = collections.deque()
        self.dropped = 0
        self.written = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one flush at a time
        self._thread = threading.Thread(target=self._loop, name=f"capture-{spec.prefix}",
                                        daemon=True)
        self._thread.start()

    def add(self, record: Record) -> None:
        if len(self.buffer) >= self.max_buffer:
            self.dropped += 1
            if self.on_drop is not None:
                self.on_drop(1)
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("inference table %s cannot keep up: %d records dropped",
                            self.spec.payload_table, self.dropped)
            return
        self.buffer.append(record)
        if len(self.buffer) >= 10_000:
            self._wake.set()

    def close(self) -> None:
        """Write everything still buffered, then stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_every_s)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep serving; the records were counted
                log.exception("writing inference table %s failed", self.spec.payload_table)

    def flush(self) -> None:
        with self._lock:
            batch: list[Record] = []
            while self.buffer:
                batch.append(self.buffer.popleft())
            if not batch:
                return
            try:
                self.write(pack(batch))
            except Exception:
                self.failures += len(batch)
                raise
            self.written += len(batch)


def pack(batch: list[Record]) -> dict[str, Any]:
    """The batch as a few lists and arrays: cheap to pickle to the writer process, which
    turns it into the two tables (``tables``)."""
    import numpy as np
    import pandas as pd

    done = [r for r in batch if r.status_code == 200 and r.frame is not None]
    packed: dict[str, Any] = {
        "request_id": [r.request_id for r in batch],
        "client_request_id": [r.client_request_id for r in batch],
        "timestamp_ms": [r.timestamp_ms for r in batch],
        "status_code": [r.status_code for r in batch],
        "execution_time_ms": [r.execution_time_ms for r in batch],
        "request": [r.request for r in batch], "response": [r.response for r in batch],
        "served_entity_id": [r.served_entity_id for r in batch],
        "requester": [r.requester for r in batch],
        "done": [i for i, r in enumerate(batch) if r.status_code == 200 and r.frame is not None],
        "counts": [len(r.frame) for r in done], "matrix": None, "frame": None,
    }
    if not done:
        return packed
    first = done[0].frame.columns
    if all(r.frame.array is not None and r.frame.columns == first for r in done):
        packed["columns"] = [str(c) for c in first]
        packed["matrix"] = np.vstack([r.frame.array for r in done])
    else:
        packed["frame"] = pd.concat([r.frame.to_frame().reset_index(drop=True) for r in done],
                                    ignore_index=True)
    preds = []
    for r in done:
        p = r.predictions
        preds.append(np.asarray(p.iloc[:, 0] if isinstance(p, pd.DataFrame) else p))
    packed["predictions"] = np.concatenate(preds)
    return packed


def tables(packed: dict[str, Any]) -> tuple[Any, Any]:
    """(payload table, unpacked table or None) of a packed batch."""
    import numpy as np
    import pyarrow as pa

    ts = pa.array(packed["timestamp_ms"], pa.int64())
    payload = pa.table({
        "databricks_request_id": pa.array(packed["request_id"], pa.string()),
        "client_request_id": pa.array(packed["client_request_id"], pa.string()),
        "date": ts.cast(pa.timestamp("ms", tz="UTC")).cast(pa.date32()),
        "timestamp_ms": ts,
        "status_code": pa.array(packed["status_code"], pa.int32()),
        "execution_time_ms": pa.array(packed["execution_time_ms"], pa.int64()),
        "request": _text(packed["request"]),
        "response": _text(packed["response"]),
        "served_entity_id": pa.array(packed["served_entity_id"], pa.string()),
        "requester": pa.array(packed["requester"], pa.string()),
        "sampling_fraction": pa.array([1.0] * len(packed["request_id"]), pa.float64()),
    })
    if not packed["done"]:
        return payload, None
    counts = np.array(packed["counts"])
    done = packed["done"]
    if packed["matrix"] is not None:
        m = packed["matrix"]
        columns = {c: pa.array(m[:, i]) for i, c in enumerate(packed["columns"])}
    else:
        frame = packed["frame"]
        columns = dict(zip(map(str, frame.columns),
                           pa.Table.from_pandas(frame, preserve_index=False).columns))
    preds = packed["predictions"]
    columns["prediction"] = (pa.array([_scalar(v) for v in preds]) if preds.dtype == object
                             else pa.array(preds))
    columns["model_id"] = pa.array(np.repeat([packed["served_entity_id"][i] for i in done],
                                             counts))
    columns["timestamp"] = pa.array(np.repeat([packed["timestamp_ms"][i] for i in done],
                                              counts), pa.int64()).cast(
        pa.timestamp("ms", tz="UTC"))
    columns["databricks_request_id"] = pa.array(np.repeat(
        [packed["request_id"][i] for i in done], counts))
    return payload, pa.table(columns)


def write_tables(catalog: Any, spec: CaptureSpec, packed: dict[str, Any]) -> None:
    payload, unpacked = tables(packed)
    catalog.write(spec.payload_table, payload, mode="append", record=False)
    if unpacked is not None:
        try:
            catalog.write(spec.unpacked_table, unpacked, mode="append", record=False)
        except Exception:  # noqa: BLE001 - the payload table has the records
            log.exception("writing %s failed", spec.unpacked_table)


def _text(values: list[bytes]) -> Any:
    """Bodies as a string column, checked as UTF-8 by Arrow (bytes that are not UTF-8 are
    replaced, as a client may send anything)."""
    import pyarrow as pa

    try:
        return pa.array(values, pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([v.decode("utf-8", "replace") for v in values], pa.string())


def _scalar(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return orjson.dumps(v).decode()
    return v.item() if hasattr(v, "item") else v
