"""The serving runtime's pure parts: payload formats, routing, rate limits, configs, and
micro-batching giving the same answers as one call per request."""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
import pandas as pd
import pytest

from kiln.errors import KilnError
from kiln.serving import config as cfg
from kiln.serving.entities import Batcher, LoadedEntity
from kiln.serving.payload import PayloadError, conform, name_columns, parse
from kiln.serving.runtime import RateLimiter, Router

COLS = ["a", "b"]
TYPES = {"a": "float64", "b": "float64"}


def rows_of(body: dict) -> pd.DataFrame:
    req = parse(orjson.dumps(body))
    return conform(name_columns(req, COLS), COLS, TYPES).to_frame()


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": ["b", "a"], "data": [[2, 1], [4, 3]]}},
    {"dataframe_records": [{"a": 1, "b": 2}, {"b": 4, "a": 3}]},
    {"instances": [[1, 2], [3, 4]]},
    {"instances": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]},
    {"inputs": {"a": [1, 3], "b": [2, 4]}},
    {"inputs": [[1, 2], [3, 4]], "params": {"k": 1}, "client_request_id": "x"},
])
def test_every_format_gives_the_same_rows(body: dict) -> None:
    frame = rows_of(body)
    assert frame.columns.tolist() == COLS and frame.dtypes.tolist() == [np.float64] * 2
    assert frame.to_numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("raw, words", [
    (b"[1, 2]", "must be a JSON object"),
    (b"{}", "none of dataframe_split"),
    (b'{"instances": [[1]], "inputs": [[1]]}', "more than one of"),
    (b'{"dataframe_split": {"columns": ["a"]}}', "dataframe_split needs"),
    (b'{"dataframe_records": [1, 2]}', "list of JSON objects"),
    (b'{"instances": [[1, 2], [1]]}', "different lengths"),
    (b'{"instances": []}', "non-empty list"),
    (b'{"instances": [[1, 2]], "params": [1]}', "params must be a JSON object"),
    (b'{"instances": [[1, 2]], "client_request_id": 5}', "client_request_id must be a string"),
    (b'{"dataframe_records": []}', "has no rows"),
])
def test_malformed_payloads_are_400s(raw: bytes, words: str) -> None:
    with pytest.raises(PayloadError) as e:
        parse(raw)
    assert e.value.status == 400 and words in e.value.message


def test_columns_and_types_are_checked() -> None:
    with pytest.raises(PayloadError, match="missing input columns: b"):
        rows_of({"dataframe_records": [{"a": 1}]})
    with pytest.raises(PayloadError, match="each row needs 2 values"):
        rows_of({"instances": [[1, 2, 3]]})
    with pytest.raises(PayloadError, match="do not fit the model's column types"):
        rows_of({"dataframe_records": [{"a": "x", "b": 1}]})
    extra = rows_of({"dataframe_records": [{"a": 1, "b": 2, "id": 9}]})
    assert extra.columns.tolist() == COLS  # columns the model does not take are dropped


def test_routes_split_by_weight_and_stick_by_client_id() -> None:
    router = Router((("stable", 90), ("canary", 10)))
    seen = Counter(router.pick() for _ in range(20000))
    assert abs(seen["canary"] / 20000 - 0.10) < 0.015
    assert len({router.pick("customer-7") for _ in range(50)}) == 1
    sticky = Counter(router.pick(f"c{i}") for i in range(5000))
    assert abs(sticky["canary"] / 5000 - 0.10) < 0.02
    assert Router((("only", 100),)).pick("x") == "only"
    assert Counter(Router((("a", 100), ("b", 0))).pick() for _ in range(100)) == {"a": 100}


def test_rate_limits_per_user_and_per_endpoint() -> None:
    per_user = RateLimiter((cfg.RateLimitSpec(3, "user"),))
    assert [per_user.allow("u") for _ in range(4)] == [True, True, True, False]
    assert per_user.allow("v")
    both = RateLimiter((cfg.RateLimitSpec(5, "user"), cfg.RateLimitSpec(6, "endpoint")))
    got = [both.allow("u") for _ in range(5)] + [both.allow("v") for _ in range(3)]
    assert got == [True] * 6 + [False] * 2


@pytest.mark.parametrize("config, words", [
    ({}, "served_entities is empty"),
    ({"served_entities": [{"entity_version": "1"}]}, "entity_name is required"),
    ({"served_entities": [{"entity_name": "m.s.x"}]}, "exactly one of entity_version"),
    ({"served_entities": [{"entity_name": "m.s.x", "entity_version": "1",
                           "workload_size": "Huge"}]}, "workload_size must be one of"),
    ({"served_entities": [{"name": "a", "entity_name": "m.s.x", "entity_version": "1"},
                          {"name": "b", "entity_name": "m.s.x", "entity_version": "2"}]},
     "traffic_config.routes must say"),
    ({"served_entities": [{"name": "a", "entity_name": "m.s.x", "entity_version": "1"}],
      "traffic_config": {"routes": [{"served_entity_name": "z", "traffic_percentage": 100}]}},
     "names 'z', which is not a served entity"),
])
def test_unusable_configs_say_which_field(config: dict, words: str) -> None:
    with pytest.raises(KilnError, match=words):
        cfg.parse("ep", {"name": "ep", "config": config})


class Doubler:
    """An estimator as scikit-learn's take their input: a DataFrame or a float matrix in
    the columns' order."""

    def __init__(self) -> None:
        self.calls = 0
        self.arrays = 0

    def predict(self, x: pd.DataFrame | np.ndarray) -> np.ndarray:
        self.calls += 1
        self.arrays += isinstance(x, np.ndarray)
        x = np.asarray(x, dtype=float)
        return x[:, 0] * 2 + x[:, 1]


def test_concurrent_requests_are_batched_with_identical_results() -> None:
    model = Doubler()
    spec = cfg.EntitySpec("e", "m.s.x", "1", None, 4, False)
    entity = LoadedEntity(spec, "1", None, COLS, TYPES, None, model)
    bodies = [{"dataframe_split": {"columns": COLS,
                                   "data": [[i, j] for j in range(i % 3 + 1)]}}
              for i in range(40)]

    async def run() -> list[list[float]]:
        batcher = Batcher(entity, ThreadPoolExecutor(2), 0.005, 10_000)
        batcher.parallel = 1
        outs = await asyncio.gather(*(
            batcher.predict(conform(parse(orjson.dumps(b)).rows, COLS, TYPES))
            for b in bodies))
        assert all(scored is None for _, scored in outs)  # nothing looked up
        return [list(values) for values, _ in outs]

    got = asyncio.run(run())
    assert got == [[2.0 * i + j for j in range(i % 3 + 1)] for i in range(40)]
    assert model.calls < 40  # requests went together
    assert entity.takes_arrays and model.arrays == model.calls  # float matrices, no frames
