"""Point-in-time lookups against a brute-force as-of join, on random event and feature
timelines: ties (a feature written at the very time of the event), lookback windows,
keys without features, default values, and the DataFrame's order and index kept."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.errors import KilnError
from kiln.features.pit import Lookup, join

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def brute_force(events: pd.DataFrame, features: pd.DataFrame, lookback: timedelta | None,
                default: float | None) -> list[float | None]:
    out = []
    for _, e in events.iterrows():
        best = None
        for _, f in features.iterrows():
            if f["customer"] != e["cid"] or f["ts"] > e["at"]:
                continue
            if lookback is not None and f["ts"] < e["at"] - lookback:
                continue
            if best is None or f["ts"] > best["ts"]:
                best = f
        out.append(best["spend"] if best is not None else default)
    return out


timelines = st.tuples(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30)), min_size=0, max_size=25,
             unique=True),  # features: (customer, minute), one row per key and time
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 30)), min_size=1, max_size=25),
    st.one_of(st.none(), st.integers(0, 10)),  # lookback minutes
    st.one_of(st.none(), st.just(-1.0)),  # default
)


@settings(max_examples=300, deadline=None)
@given(timelines)
def test_point_in_time_lookup_equals_a_brute_force_as_of_join(case) -> None:  # type: ignore[no-untyped-def]
    feats, evs, lookback_min, default = case
    rng = np.random.default_rng(len(feats) * 31 + len(evs))
    features = pd.DataFrame({
        "customer": [c for c, _ in feats],
        "ts": [T0 + pd.Timedelta(minutes=m) for _, m in feats],
        "spend": rng.normal(size=len(feats)).round(3)})
    events = pd.DataFrame({
        "cid": [c for c, _ in evs], "at": [T0 + pd.Timedelta(minutes=m) for _, m in evs],
        "label": range(len(evs))}, index=[f"r{i}" for i in range(len(evs))][::-1])
    lookback = timedelta(minutes=lookback_min) if lookback_min is not None else None
    lookup = Lookup("main.fs.spend", ("customer",), ("cid",), ("spend",), ("spend",), "ts",
                    "at", lookback, {"spend": default} if default is not None else {})
    got = join(events, features, lookup)
    assert list(got.index) == list(events.index) and list(got["label"]) == list(events["label"])
    want = brute_force(events, features, lookback, default)
    for g, w in zip(got["spend"], want):
        assert (pd.isna(g) and w is None) or g == w


def test_a_table_without_timestamps_joins_on_its_keys() -> None:
    features = pd.DataFrame({"id": [1, 2], "age": [30, 40]})
    events = pd.DataFrame({"uid": [2, 3, 1], "y": [1, 0, 1]})
    got = join(events, features, Lookup("t", ("id",), ("uid",), ("age",), ("customer_age",),
                                        defaults={"customer_age": 0}))
    assert got["customer_age"].tolist() == [40, 0, 30]


def test_refusals_name_what_is_wrong() -> None:
    features = pd.DataFrame({"id": [1], "ts": [T0], "f": [1.0]})
    events = pd.DataFrame({"uid": [1], "at": [T0], "f": [0.0]})
    with pytest.raises(KilnError, match="lookup key 'customer_id' of the lookup on t is not a "
                                        "column of the DataFrame"):
        join(events, features, Lookup("t", ("id",), ("customer_id",), ("f",), ("g",)))
    with pytest.raises(KilnError, match="feature 'f' of t would overwrite a column"):
        join(events, features, Lookup("t", ("id",), ("uid",), ("f",), ("f",)))
    with pytest.raises(KilnError, match="lookup key 'uid' is object in the DataFrame"):
        join(pd.DataFrame({"uid": ["x"], "at": [T0]}), features,
             Lookup("t", ("id",), ("uid",), ("f",), ("g",), "ts", "at"))
