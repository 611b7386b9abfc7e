"""Served entities: a registered model version loaded for serving, and the adaptive
micro-batcher that groups concurrent requests to it into one predict call."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import KilnError
from kiln.models.raw import sklearn_estimator, takes_matrix
from kiln.serving.config import EntitySpec
from kiln.serving.payload import Rows, conform

# estimators that take the float matrix (``LoadedEntity.takes_arrays``) get it in their
# columns' order, so scikit-learn's warning that it has no column names is noise; said
# once for the serving process, not per call (catch_warnings is neither cheap nor
# thread-safe on the predict path)
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@dataclass
class LoadedEntity:
    spec: EntitySpec
    version: str
    model: Any  # mlflow.pyfunc.PyFuncModel
    columns: list[str] | None
    dtypes: dict[str, str] | None
    example: Any = None  # the logged input example, for the health check
    _raw: Any = field(default=None, repr=False)
    # a model that carries its features (FeatureEngineeringClient.log_model)
    _features: Any = field(default=None, repr=False)
    _takes_arrays: bool | None = field(default=None, repr=False)

    @property
    def takes_arrays(self) -> bool:
        """Whether the estimator may be given the request's float matrix as it is: a plain
        scikit-learn predict whose inputs are the signature's float columns, in order."""
        if self._takes_arrays is None:
            self._takes_arrays = bool(
                self.columns and self.dtypes
                and all(t == "float64" for t in self.dtypes.values())
                and takes_matrix(self._raw, self.columns))
        return self._takes_arrays

    @property
    def looks_features_up(self) -> bool:
        return self._features is not None

    @property
    def feature_tables(self) -> list[str]:
        """The feature tables the model looks its features up in."""
        if self._features is None:
            return []
        return sorted({lk["table"] for lk in self._features.spec["lookups"]})

    def score(self, frame: Any, params: dict[str, Any] | None = None) -> tuple[Any, Any]:
        """(predictions, the frame as scored): a model that carries its features gets the
        ones the request did not send looked up first, every column kept, so that the
        inference table logs what the model scored; other models score ``frame`` as is
        (None: nothing was added)."""
        if self._features is None:
            return self.predict(frame, params), None
        scored = self._features.augment(frame)
        return self.predict(scored, params), scored

    @property
    def entity_id(self) -> str:
        """What the inference table's ``served_entity_id`` and ``model_id`` say."""
        return f"{self.spec.name}:{self.spec.model}/{self.version}"

    def predict(self, frame: Any, params: dict[str, Any] | None = None) -> Any:
        if self._raw is not None and not params:
            return self._raw.predict(frame)
        return self.model.predict(frame, params=params) if params else self.model.predict(frame)


def load(spec: EntitySpec, version: str) -> LoadedEntity:
    """Load version ``version`` of the spec's model from the process's MLflow registry and
    check it answers its own input example."""
    import mlflow.pyfunc

    uri = f"models:/{spec.model}/{version}"
    try:
        model = mlflow.pyfunc.load_model(uri)
    except Exception as e:  # noqa: BLE001 - MLflow raises many kinds here
        raise KilnError(f"cannot load {uri}: {str(e).splitlines()[0]}") from None
    columns, dtypes = _inputs(model)
    entity = LoadedEntity(spec, version, model, columns, dtypes, _example(model),
                          sklearn_estimator(model), _feature_model(model))
    if entity.example is not None:
        try:
            entity.predict(_conform(entity, entity.example))
        except Exception as e:  # noqa: BLE001 - the model's own code failed
            raise KilnError(f"{uri} failed its health check (predicting its input example): "
                            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
                            ) from None
    return entity


def _conform(entity: LoadedEntity, frame: Any) -> Any:
    return conform(Rows(list(frame.columns), frame=frame), entity.columns,
                   entity.dtypes).to_frame()


def _inputs(model: Any) -> tuple[list[str] | None, dict[str, str] | None]:
    import numpy as np

    sig = model.metadata.signature
    if sig is None or sig.inputs is None or not sig.inputs.has_input_names():
        return None, None
    cols = list(sig.inputs.input_names())
    try:
        types = sig.inputs.pandas_types()
        # numpy dtype names ("float64", "object"): MLflow gives the class `object` for
        # strings, whose str() pandas would not understand
        dtypes = {c: np.dtype(t).name for c, t in zip(cols, types)}
    except Exception:  # noqa: BLE001 - tensor specs and the like: no casting
        dtypes = None
    return cols, dtypes


def _example(model: Any) -> Any:
    try:
        ex = model.input_example
    except Exception:  # noqa: BLE001 - no example was logged
        return None
    import pandas as pd

    return ex if isinstance(ex, pd.DataFrame) else None


def _feature_model(model: Any) -> Any:
    """The python model of a model that carries its features (it has a feature spec and
    looks features up: ``kiln.features.model.FeatureModel``), else None."""
    try:
        inner = model.unwrap_python_model()
    except Exception:  # noqa: BLE001 - not a python_model pyfunc
        return None
    return inner if hasattr(inner, "augment") and hasattr(inner, "spec") else None


class Batcher:
    """Groups the requests that arrive while a predict call is running into the next call.

    A request to an idle entity is predicted as soon as the event loop has read what
    else arrived with it: when the model answers small batches fast (under
    ``INLINE_MAX_S`` on average, at most ``INLINE_MAX_ROWS`` rows), on the event loop
    itself, as a bare predict loop does (a hop to a thread costs more than such a predict);
    otherwise in the thread pool. While ``concurrency`` calls are running in the pool, new
    requests wait (at most ``max_wait_s`` once a slot is free, or until a call ends) and
    go together; results are split back per request. Requests with ``params`` are
    predicted alone, in the pool."""

    INLINE_MAX_ROWS = 256
    INLINE_MAX_S = 0.002

    def __init__(self, entity: LoadedEntity, pool: ThreadPoolExecutor, max_wait_s: float,
                 max_rows: int) -> None:
        self.entity = entity
        self.pool = pool
        self.max_wait_s = max_wait_s
        self.max_rows = max_rows
        self.pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self.rows = 0
        self.in_flight = 0
        self.timer: asyncio.TimerHandle | None = None
        self.calls = 0
        self.inline_s = 0.0  # how long a small batch's predict takes, on average (EWMA)
        self.scheduled = False  # an inline predict is due once the loop has read the rest
        # parallel predict calls: the workload size's concurrency, but no more than the
        # machine has cores to spare for them (more only fight over the GIL)
        self.parallel = max(1, min(entity.spec.concurrency, int(os.environ.get(
            "KILN_SERVING_PARALLEL", max(1, (os.cpu_count() or 2) // 2)))))

    async def predict(self, rows: Rows, params: dict[str, Any] | None = None) -> Any:
        loop = asyncio.get_running_loop()
        if params:
            return await loop.run_in_executor(self.pool, self.entity.score, rows.to_frame(),
                                              params)
        fut: asyncio.Future[Any] = loop.create_future()
        self.pending.append((rows, fut))
        self.rows += len(rows)
        if self.in_flight == 0 and self.inline_s < self.INLINE_MAX_S:
            if not self.scheduled:
                self.scheduled = True
                loop.call_soon(self._inline, loop)
        elif self.in_flight == 0 or (self.rows >= self.max_rows
                                     and self.in_flight < self.parallel):
            self._flush(loop)
        elif self.timer is None:
            self.timer = loop.call_later(self.max_wait_s, self._on_timer, loop)
        return await fut

    def _inline(self, loop: asyncio.AbstractEventLoop) -> None:
        """Predict what is pending on the event loop (small and fast), else in the pool."""
        self.scheduled = False
        if not self.pending:
            return
        if self.in_flight or self.rows > self.INLINE_MAX_ROWS:
            self._flush(loop)
            return
        batch, self.pending, self.rows = self.pending, [], 0
        self.calls += 1
        try:
            results = self._timed([f for f, _ in batch])
        except Exception as e:  # noqa: BLE001 - each request gets the model's failure
            _deliver(batch, None, e)
            return
        _deliver(batch, results, None)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        if self.pending and self.in_flight < self.parallel:
            self._flush(loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self.pending, self.rows = self.pending, [], 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.in_flight += 1
        self.calls += 1
        task = loop.run_in_executor(self.pool, self._timed, [f for f, _ in batch])
        task.add_done_callback(lambda t: self._done(loop, batch, t))

    def _timed(self, batch: list[Rows]) -> list[tuple[Any, Any]]:
        """``_predict_batch``, its time kept for the choice between loop and pool (small
        batches only: a big one says nothing about a small one's cost)."""
        t0 = time.perf_counter()
        try:
            return _predict_batch(self.entity, batch)
        finally:
            if sum(len(r) for r in batch) <= self.INLINE_MAX_ROWS:
                self.inline_s = 0.8 * self.inline_s + 0.2 * (time.perf_counter() - t0)

    def _done(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Any, Any]],
              task: asyncio.Future[Any]) -> None:
        self.in_flight -= 1
        exc = task.exception()
        _deliver(batch, None if exc is not None else task.result(), exc)
        if self.pending:
            self._flush(loop)


def _deliver(batch: list[tuple[Any, Any]], results: list[Any] | None,
             exc: BaseException | None) -> None:
    """Each request's part of the results, or the model's failure."""
    for i, (_, fut) in enumerate(batch):
        if fut.done():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(results[i])  # type: ignore[index]


def _predict_batch(entity: LoadedEntity, batch: list[Rows]) -> list[tuple[Any, Any]]:
    """One predict call for the batch; its results (predictions, the frame as scored)
    split back per request."""
    import numpy as np
    import pandas as pd

    if entity.takes_arrays and all(r.array is not None for r in batch):
        # the estimator itself on the float matrix, in its columns' order: no DataFrame
        x = batch[0].array if len(batch) == 1 else np.vstack([r.array for r in batch])
        return _split(batch, entity._raw.predict(x), None)
    if len(batch) == 1:
        return [entity.score(batch[0].to_frame())]
    if all(r.array is not None for r in batch):
        frame = pd.DataFrame(np.vstack([r.array for r in batch]), columns=batch[0].columns,
                             copy=False)
    else:
        frame = pd.concat([r.to_frame() for r in batch], ignore_index=True)
    values, scored = entity.score(frame)
    return _split(batch, values, scored)


def _split(batch: list[Rows], values: Any, scored: Any) -> list[tuple[Any, Any]]:
    out, start = [], 0
    for r in batch:
        end = start + len(r)
        out.append((values.iloc[start:end] if hasattr(values, "iloc") else values[start:end],
                    None if scored is None else scored.iloc[start:end]))
        start = end
    return out


def now_ms() -> int:
    return int(time.time() * 1000)
