"""Each drift metric against an independent numpy/scipy computation of its definition."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats
from scipy.spatial import distance

from kiln.monitoring.drift import (categorical_drift, numeric_drift, smirnov_sf,
                                   sorted_quantiles)


def reference(ref_counts: np.ndarray, cur_counts: np.ndarray) -> dict[str, float]:
    keep = [i for i in range(len(ref_counts)) if ref_counts[i] + cur_counts[i] > 0]
    rc = np.array([ref_counts[i] for i in keep], float)
    cc = np.array([cur_counts[i] for i in keep], float)
    p, q = rc / rc.sum(), cc / cc.sum()
    psi = 0.0
    for a, b in zip(p, q):
        a2, b2 = (a or 1e-4), (b or 1e-4)
        psi += (b2 - a2) * math.log(b2 / a2)
    if len(keep) > 1:
        chi = stats.chi2_contingency([rc, cc], correction=False)
        chi_s, chi_p = chi[0], chi[1]
    else:
        chi_s, chi_p = 0.0, 1.0
    return {"js_distance": distance.jensenshannon(p, q, base=2),
            "population_stability_index": psi, "tv_distance": 0.5 * sum(abs(p - q)),
            "l_infinity_distance": max(abs(p - q)), "chi_squared_statistic": chi_s,
            "chi_squared_pvalue": chi_p}


def close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) <= 1e-9 * max(1.0, abs(b))


values = st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(values, values)
def test_numeric_metrics_follow_their_definitions(ref_raw: list, cur_raw: list) -> None:
    ref = np.array([np.nan if v is None else v for v in ref_raw], float)
    cur = np.array([np.nan if v is None else v for v in cur_raw], float)
    d = numeric_drift(ref, cur)
    r, c = [v for v in ref_raw if v is not None], [v for v in cur_raw if v is not None]
    assert d.count_delta == len(cur_raw) - len(ref_raw)
    if ref_raw and cur_raw:
        want = 100 * ((len(cur_raw) - len(c)) / len(cur_raw) - (len(ref_raw) - len(r)) / len(ref_raw))
        assert close(d.percent_null_delta, want)
    if not r or not c:
        assert d.js_distance is d.ks_statistic is d.population_stability_index is None
        return
    assert close(d.avg_delta, np.mean(c) - np.mean(r))
    ks = stats.ks_2samp(r, c)
    assert close(d.ks_statistic, ks.statistic) and close(d.ks_pvalue, ks.pvalue)
    assert close(d.wasserstein_distance, stats.wasserstein_distance(r, c))
    edges = np.unique(np.quantile(r, [.1, .2, .3, .4, .5, .6, .7, .8, .9]))
    bins = len(edges) + 1
    rc = np.array([sum(1 for x in r if np.searchsorted(edges, x, side="right") == b)
                   for b in range(bins)])
    cc = np.array([sum(1 for x in c if np.searchsorted(edges, x, side="right") == b)
                   for b in range(bins)])
    for key, want in reference(rc, cc).items():
        assert close(getattr(d, key), want), key
        assert not math.isnan(getattr(d, key))


cats = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", "e"])), max_size=60)


@settings(max_examples=150, deadline=None)
@given(cats, cats)
def test_categorical_metrics_follow_their_definitions(ref: list, cur: list) -> None:
    d = categorical_drift(ref, cur)
    r, c = [v for v in ref if v is not None], [v for v in cur if v is not None]
    assert d.count_delta == len(cur) - len(ref) and d.avg_delta is None
    if not r or not c:
        assert d.tv_distance is None and d.chi_squared_statistic is None
        return
    union = sorted(set(r) | set(c))
    rc = np.array([r.count(k) for k in union])
    cc = np.array([c.count(k) for k in union])
    for key, want in reference(rc, cc).items():
        assert close(getattr(d, key), want), key


def test_edge_cases_have_numbers_not_nans() -> None:
    same = numeric_drift(np.array([5.0] * 10), np.array([5.0] * 7))  # one distinct value
    assert same.population_stability_index == 0.0 and same.chi_squared_statistic == 0.0
    assert same.chi_squared_pvalue == 1.0 and same.js_distance == 0.0
    new_cat = categorical_drift(["a"] * 10, ["a"] * 5 + ["z"] * 5)  # a category on one side
    assert new_cat.population_stability_index == pytest.approx(
        (0.5 - 1) * math.log(0.5 / 1) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))
    all_null = numeric_drift(np.array([np.nan] * 4), np.array([1.0, 2.0]))
    assert all_null.percent_null_delta == -100.0 and all_null.js_distance is None
    empty = numeric_drift(np.array([1.0, 2.0]), np.array([]))
    assert empty.count_delta == -2 and empty.percent_null_delta is None


@pytest.mark.parametrize("seed", range(4))
def test_large_samples_match_scipy(seed: int) -> None:
    """Past scipy's exact-p-value size the statistic, p-value and distance come from one
    merge of the samples; they must still equal scipy's to 1e-9 (ties included)."""
    rng = np.random.default_rng(seed)
    ref = np.round(rng.normal(0, 1, 25_000), 2)  # rounding makes many ties
    cur = np.round(rng.normal(0.05 * seed, 1 + 0.1 * seed, 18_000), 2)
    d = numeric_drift(ref, cur)
    ks = stats.ks_2samp(ref, cur)
    assert close(d.ks_statistic, ks.statistic) and close(d.ks_pvalue, ks.pvalue)
    assert close(d.wasserstein_distance, stats.wasserstein_distance(ref, cur))


@pytest.mark.parametrize("shift", [0.01, 0.02, 0.03, 0.05])
def test_ks_pvalue_where_scipy_sums_the_smirnov_series(shift: float) -> None:
    """Samples of ~10^5 whose KS statistic lands where scipy's p-value is twice the
    one-sided Smirnov tail (n*d^2 in [2.2, 370)): kiln sums that series itself."""
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(0, 1, 120_000), rng.normal(shift, 1, 90_000)
    d = numeric_drift(ref, cur)
    ks = stats.ks_2samp(ref, cur)
    n = round(120_000 * 90_000 / 210_000)
    assert 2.2 <= n * ks.statistic ** 2 < 370 or shift == 0.01
    assert close(d.ks_statistic, ks.statistic) and close(d.ks_pvalue, ks.pvalue)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([141, 1_000, 20_000, 71_428, 250_000]), st.floats(2.2, 369.9))
def test_smirnov_series_matches_scipy(n: int, n_x_squared: float) -> None:
    x = math.sqrt(n_x_squared / n)
    if x < 0.5:
        assert abs(smirnov_sf(n, x) - special.smirnov(n, x)) <= 1e-12


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=80)
       .map(lambda v: v + v[: len(v) // 3]))  # with ties
def test_quantiles_of_sorted_values_equal_numpys(values: list) -> None:
    qs = [0.0, 0.01, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0]
    v = np.sort(np.array(values))
    assert np.array_equal(sorted_quantiles(v, qs), np.quantile(v, qs))


window_data = st.lists(
    st.tuples(st.sampled_from([0, 1, 3, 4, 6]),  # days, with gaps (no day 2 or 5)
              st.sampled_from(["a", "b"]),  # a slice
              st.one_of(st.none(), st.integers(-3, 3).map(lambda i: i / 2))),  # many ties
    min_size=2, max_size=80)


@settings(max_examples=60, deadline=None)
@given(window_data)
def test_consecutive_drift_of_every_window_follows_the_definition(rows: list) -> None:
    """The whole computation (windows, slices, the previous window's bins): each CONSECUTIVE
    row equals the definition computed from the raw rows of the window and of the window
    just before it, to 1e-9. Values tie on the previous window's decile edges, the case
    that exposed the binning: a value equal to an edge belongs to the bin above it."""
    from kiln.monitoring.compute import Spec, compute

    frame = pd.DataFrame({
        "ts": pd.to_datetime([f"2026-11-0{1 + d}T12:00:00Z" for d, _, _ in rows]),
        "s": [s for _, s, _ in rows], "v": [v for _, _, v in rows]}).astype({"v": float})
    _, drift = compute(frame, None, Spec("ts", ("1 day",), slicing_exprs=("s",)))
    checked = 0
    for row in drift:
        if row["column_name"] != "v" or row["drift_type"] != "CONSECUTIVE":
            continue
        start = pd.Timestamp(row["window_start"])
        mine = frame if row["slice_key"] is None else frame[frame.s == row["slice_value"]]
        day = mine.ts.dt.floor("D")
        cur = mine[day == start].v.dropna().to_numpy()
        prev = mine[day == start - pd.Timedelta(days=1)].v.dropna().to_numpy()
        assert len(mine[day == start - pd.Timedelta(days=1)]), "only after the adjacent day"
        if not len(cur) or not len(prev):
            assert row["population_stability_index"] is None
            continue
        edges = np.unique(np.quantile(prev, [.1, .2, .3, .4, .5, .6, .7, .8, .9]))
        bins = len(edges) + 1
        want = reference(np.bincount(np.searchsorted(edges, prev, side="right"), minlength=bins),
                         np.bincount(np.searchsorted(edges, cur, side="right"), minlength=bins))
        for name, value in want.items():
            assert close(row[name], value), (name, row[name], value)
        checked += 1
