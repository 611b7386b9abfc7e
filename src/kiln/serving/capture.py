"""Inference tables: every request and response of an endpoint, appended to Delta tables
in batches, off the request path: a background thread ships small batches to the writer
process (``kiln.serving.capture_process``), which appends them every two seconds.

``<prefix>_payload`` has Databricks' inference table columns; ``<prefix>_payload_unpacked``
has one row per prediction (every column the request sent, ``prediction``, ``model_id``,
``timestamp``, ``databricks_request_id``), ready for a quality monitor.

The unpacked table follows the requests: new columns are added, rows without some get
nulls; rows whose values cannot be merged (a column that changes type) are kept in
``<prefix>_payload_quarantine`` (metric ``kiln_inference_capture_quarantined_total``).
The buffer is bounded: when the table cannot keep up, or a batch cannot be written at
all, records are dropped and counted (metric ``kiln_inference_capture_dropped_total`` and
one log line), never blocking a request.
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
    """The serving side of one endpoint's inference tables: requests are buffered as they
    are answered, and a background thread ships them to the writer process every
    ``ship_every_s`` in small batches (little to pack, so little time holding the GIL);
    the writer process gathers them and appends to the tables every ``flush_every_s``.
    What the writer did comes back to ``result``: counters, metrics, log lines."""

    SHIP_MAX = 256  # records per shipment

    def __init__(self, spec: CaptureSpec, send: Callable[[dict[str, Any]], None],
                 flush: Callable[[], None], max_buffer: int = 100_000,
                 ship_every_s: float = 0.05,
                 on_drop: Callable[[int], None] | None = None,
                 on_quarantine: Callable[[int], None] | None = None) -> None:
        self.spec = spec
        self.send = send  # a packed batch to the writer process
        self.flush_remote = flush  # ask it to write what it holds now
        self.max_buffer = max_buffer
        self.ship_every_s = ship_every_s
        self.on_drop = on_drop
        self.on_quarantine = on_quarantine
        self.quarantined = 0
        self.buffer: collections.deque[Record] = collections.deque()
        self.dropped = 0
        self.written = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one shipment at a time
        self._thread = threading.Thread(target=self._loop, name=f"capture-{spec.prefix}",
                                        daemon=True)
        self._thread.start()

    def add(self, record: Record) -> None:
        if len(self.buffer) >= self.max_buffer:
            self._drop(1, "cannot keep up")
            return
        self.buffer.append(record)
        if len(self.buffer) >= 2_000:
            self._wake.set()

    def close(self) -> None:
        """Ship everything still buffered and have it written, then stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.ship()
        try:
            self.flush_remote()
        except Exception as e:  # noqa: BLE001 - the writer is gone: said by ship/result
            log.error("inference table %s: %s", self.spec.payload_table, e)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.ship_every_s)
            self._wake.clear()
            self.ship()

    def ship(self) -> None:
        """Hand what is buffered to the writer process. A batch it cannot take is counted
        as dropped and said in one log line; serving goes on."""
        with self._lock:
            while self.buffer:
                # a few hundred records at a time: a backlog (the writer was busy) is not
                # packed in one long hold of the GIL
                batch = [self.buffer.popleft()
                         for _ in range(min(len(self.buffer), self.SHIP_MAX))]
                try:
                    self.send(pack(batch))
                except Exception as e:  # noqa: BLE001 - keep serving; records are counted
                    self.failures += len(batch)
                    self._drop(len(batch), " ".join(str(e).split()))

    def result(self, records: int, quarantined: int, why: str, error: str | None) -> None:
        """What the writer process did with ``records`` records (called by its reader)."""
        if error is not None:
            self.failures += records
            self._drop(records, error)
            return
        self.written += records
        if quarantined:
            self.quarantined += quarantined
            if self.on_quarantine is not None:
                self.on_quarantine(quarantined)
            log.warning("inference table %s: %d rows kept in %s, not in %s: %s",
                        self.spec.payload_table, quarantined, self.spec.quarantine_table,
                        self.spec.unpacked_table, why)

    def _drop(self, n: int, why: str) -> None:
        before = self.dropped
        self.dropped += n
        if self.on_drop is not None:
            self.on_drop(n)
        if before == 0 or before // 1000 != self.dropped // 1000:
            log.warning("inference table %s: %d records dropped in all (%s)",
                        self.spec.payload_table, self.dropped, why)


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
        "counts": [len(r.frame) for r in done], "matrix": None, "frames": None,
    }
    if not done:
        return packed
    first = done[0].frame.columns
    if all(r.frame.array is not None and r.frame.columns == first for r in done):
        packed["columns"] = [str(c) for c in first]
        packed["matrix"] = np.vstack([r.frame.array for r in done])
    else:  # requests of different shapes: each keeps its own columns and types
        packed["frames"] = [r.frame.to_frame().reset_index(drop=True) for r in done]
    preds = []
    for r in done:
        p = r.predictions
        preds.append(np.asarray(p.iloc[:, 0] if isinstance(p, pd.DataFrame) else p))
    packed["predictions"] = np.concatenate(preds)
    return packed


_LISTS = ("request_id", "client_request_id", "timestamp_ms", "status_code",
          "execution_time_ms", "request", "response", "served_entity_id", "requester")


def merge(packs: list[dict[str, Any]]) -> dict[str, Any]:
    """Packed batches as one (what the writer process appends in one commit)."""
    import numpy as np
    import pandas as pd

    if len(packs) == 1:
        return packs[0]
    out: dict[str, Any] = {k: [v for p in packs for v in p[k]] for k in _LISTS}
    out.update(done=[], counts=[], matrix=None, frames=None)
    scored = [p for p in packs if p["done"]]
    offset = 0
    for p in packs:
        out["done"] += [i + offset for i in p["done"]]
        out["counts"] += p["counts"]
        offset += len(p["request_id"])
    if not scored:
        return out
    out["predictions"] = np.concatenate([p["predictions"] for p in scored])
    if all(p["matrix"] is not None and p["columns"] == scored[0]["columns"] for p in scored):
        out["columns"] = scored[0]["columns"]
        out["matrix"] = np.vstack([p["matrix"] for p in scored])
        return out
    frames = []
    for p in scored:
        if p["frames"] is not None:
            frames += p["frames"]
            continue
        ends = np.cumsum(p["counts"])
        frames += [pd.DataFrame(part, columns=p["columns"])
                   for part in np.split(p["matrix"], ends[:-1])]
    out["frames"] = frames
    return out


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
        # one table of every request's rows: a column a request lacks is null for it;
        # a column whose type differs between requests cannot be merged (KilnError)
        try:
            merged = pa.concat_tables([_arrow(f) for f in packed["frames"]],
                                      promote_options="default")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise _Unmergeable(f"the requests in one batch send a column with different "
                               f"types: {str(e).splitlines()[0]}", packed) from None
        columns = dict(zip(merged.column_names, merged.columns))
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


def write_tables(catalog: Any, spec: CaptureSpec, packed: dict[str, Any]
                 ) -> tuple[int, str]:
    """Append a batch to the payload table and the unpacked table; the unpacked table
    takes new columns and rows without some (null), as Databricks' inference tables keep
    every request. Rows whose values cannot be merged go to the quarantine table.
    Returns (rows quarantined, why)."""
    from kiln.errors import KilnError

    try:
        payload, unpacked = tables(packed)
    except _Unmergeable as e:
        payload, unpacked = tables({**packed, "done": []})
        catalog.write(spec.payload_table, payload, mode="append", record=False)
        return _quarantine(catalog, spec, e.rows, str(e))
    catalog.write(spec.payload_table, payload, mode="append", record=False)
    if unpacked is None:
        return 0, ""
    try:
        catalog.write(spec.unpacked_table, unpacked, mode="append", record=False, evolve=True)
        return 0, ""
    except KilnError as e:
        return _quarantine(catalog, spec, unpacked.to_pylist(), e.summary)


class _Unmergeable(Exception):
    def __init__(self, message: str, packed: dict[str, Any]) -> None:
        super().__init__(message)
        self.rows = []  # every unpacked row of the batch, as dicts
        preds = iter(packed["predictions"])
        for i, frame in zip(packed["done"], packed["frames"]):
            for row in frame.to_dict("records"):
                self.rows.append({**row, "prediction": _scalar(next(preds)),
                                  "model_id": packed["served_entity_id"][i],
                                  "timestamp": packed["timestamp_ms"][i],
                                  "databricks_request_id": packed["request_id"][i]})


def _quarantine(catalog: Any, spec: CaptureSpec, rows: list[dict[str, Any]], reason: str
                ) -> tuple[int, str]:
    """Keep rows that cannot go to the unpacked table: id, time, why, the row as JSON."""
    import pyarrow as pa

    stamp = [r["timestamp"] for r in rows]
    table = pa.table({
        "databricks_request_id": pa.array([r["databricks_request_id"] for r in rows],
                                          pa.string()),
        "timestamp": pa.array([int(t.timestamp() * 1000) if hasattr(t, "timestamp") else t
                               for t in stamp], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "reason": pa.array([reason] * len(rows), pa.string()),
        "row": pa.array([orjson.dumps(r, default=str).decode() for r in rows], pa.string()),
    })
    catalog.write(spec.quarantine_table, table, mode="append", record=False)
    return len(rows), reason


def _arrow(frame: Any) -> Any:
    """A request's rows as Arrow; a column of mixed Python types becomes text."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        mixed = frame.copy()
        for c in mixed.columns:
            if mixed[c].dtype == object:
                mixed[c] = mixed[c].map(lambda v: None if v is None else str(v))
        return pa.Table.from_pandas(mixed, preserve_index=False)


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
