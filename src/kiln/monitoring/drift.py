"""Drift metrics between a reference sample and a current one (pure functions).

Definitions (the contract, tested against independent numpy/scipy computations):
nulls never enter a distribution; ``ref`` is the baseline or the previous window, ``cur``
the window. Numeric columns are binned on 10 quantile bins of ``ref`` (edges
``np.unique(np.quantile(ref, [.1, ..., .9]))``, bin ``np.searchsorted(edges, x,
side="right")``), categorical columns counted per category over the union of both sides;
bins or categories empty on both sides are dropped; p and q are the ref and cur shares.
An empty side leaves the distribution metrics null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DECILES = np.array([.1, .2, .3, .4, .5, .6, .7, .8, .9])  # as written, not linspace
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class Drift:
    count_delta: float
    avg_delta: float | None
    percent_null_delta: float | None
    js_distance: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    wasserstein_distance: float | None = None
    population_stability_index: float | None = None
    chi_squared_statistic: float | None = None
    chi_squared_pvalue: float | None = None
    tv_distance: float | None = None
    l_infinity_distance: float | None = None


def numeric_drift(ref: np.ndarray, cur: np.ndarray) -> Drift:
    """``ref`` and ``cur`` as float arrays with NaN for nulls."""
    return sorted_numeric_drift(clean_sorted(ref), clean_sorted(cur), len(ref), len(cur))


def clean_sorted(values: np.ndarray) -> np.ndarray:
    """The non-null values, sorted (what every numeric metric starts from)."""
    return np.sort(values[~np.isnan(values)])


def sorted_numeric_drift(ref_ok: np.ndarray, cur_ok: np.ndarray, n_ref: int,
                         n_cur: int) -> Drift:
    """``numeric_drift`` from the sorted non-null values and the row counts: scipy gets
    sorted input (the same results, much faster to sort and search again)."""
    base = _deltas(n_ref, n_cur, len(ref_ok), len(cur_ok),
                   float(ref_ok.mean()) if len(ref_ok) else None,
                   float(cur_ok.mean()) if len(cur_ok) else None)
    if not len(ref_ok) or not len(cur_ok):
        return base

    edges = np.unique(np.quantile(ref_ok, DECILES))
    ref_counts, cur_counts = _bin_counts(ref_ok, edges), _bin_counts(cur_ok, edges)
    ks_stat, ks_p, wasserstein = _ks_and_wasserstein(ref_ok, cur_ok)
    return _with_distribution(base, ref_counts, cur_counts, ks_statistic=ks_stat,
                              ks_pvalue=ks_p, wasserstein_distance=wasserstein)


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many values fall in each bin ``np.searchsorted(edges, x, side="right")``: on
    sorted values, the bin boundaries are where each edge would go (side "right" of an
    edge means ``x >= edge``, i.e. the edge's left insertion point)."""
    cuts = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate(([0], cuts, [len(sorted_values)])))


KS_EXACT_MAX_N = 10_000  # scipy's 'auto': the exact p-value up to this sample size


def _ks_and_wasserstein(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """``ks_2samp(a, b)`` (two-sided, method auto) and ``wasserstein_distance(a, b)`` of two
    sorted samples, computed as scipy does but from one linear merge of the two samples
    instead of binary searches (the same counts, so the same floating-point results)."""
    from scipy import stats

    n1, n2 = len(a), len(b)
    values = np.concatenate([a, b])
    order = np.argsort(values, kind="stable")  # two sorted runs: a linear merge
    merged = values[order]
    # the cumulative counts at the last value of each run of equal values are the
    # searchsorted(..., side="right") counts of every value in the run
    ends = np.flatnonzero(np.append(merged[1:] != merged[:-1], True))
    in_a = np.cumsum(order < n1)[ends]
    cdf1 = in_a / n1
    cdf2 = (ends + 1 - in_a) / n2
    diffs = cdf1 - cdf2  # each run once: the same extremes as over every value
    d = float(max(diffs.max(), np.clip(-diffs.min(), 0, 1)))
    if max(n1, n2) <= KS_EXACT_MAX_N:
        pvalue = float(stats.ks_2samp(a, b).pvalue)
    else:
        m, n = sorted([float(n1), float(n2)], reverse=True)
        pvalue = float(np.clip(stats.distributions.kstwo.sf(d, np.round(m * n / (m + n))),
                               0, 1))
    # |cdf1 - cdf2| times the gap to the next value; gaps inside a run are zero
    wasserstein = float(np.dot(np.abs(diffs[:-1]), merged[ends[1:]] - merged[ends[:-1]]))
    return d, pvalue, wasserstein


def categorical_drift(ref: list[Any], cur: list[Any]) -> Drift:
    """``ref`` and ``cur`` as lists with None for nulls."""
    ref_ok = [v for v in ref if v is not None]
    cur_ok = [v for v in cur if v is not None]
    base = _deltas(len(ref), len(cur), len(ref_ok), len(cur_ok), None, None)
    if not ref_ok or not cur_ok:
        return base
    cats = sorted(set(ref_ok) | set(cur_ok), key=repr)
    index = {c: i for i, c in enumerate(cats)}
    ref_counts = np.bincount([index[v] for v in ref_ok], minlength=len(cats))
    cur_counts = np.bincount([index[v] for v in cur_ok], minlength=len(cats))
    return _with_distribution(base, ref_counts, cur_counts)


def categorical_counts_drift(n_ref: int, n_cur: int, ref_counts: np.ndarray,
                             cur_counts: np.ndarray) -> Drift:
    """The same as ``categorical_drift`` from counts per category (aligned arrays) and the
    row counts including nulls; what the windowed computation uses."""
    base = _deltas(n_ref, n_cur, int(ref_counts.sum()), int(cur_counts.sum()), None, None)
    if not ref_counts.sum() or not cur_counts.sum():
        return base
    return _with_distribution(base, ref_counts, cur_counts)


def _deltas(n_ref: int, n_cur: int, ok_ref: int, ok_cur: int, mean_ref: float | None,
            mean_cur: float | None) -> Drift:
    null_delta = None
    if n_ref and n_cur:
        null_delta = 100.0 * ((n_cur - ok_cur) / n_cur - (n_ref - ok_ref) / n_ref)
    avg_delta = mean_cur - mean_ref if mean_cur is not None and mean_ref is not None else None
    return Drift(float(n_cur - n_ref), avg_delta, null_delta)


def _with_distribution(base: Drift, ref_counts: np.ndarray, cur_counts: np.ndarray,
                       **extra: float) -> Drift:
    from dataclasses import replace

    from scipy import stats
    from scipy.spatial import distance

    keep = (ref_counts + cur_counts) > 0
    rc, cc = ref_counts[keep].astype(float), cur_counts[keep].astype(float)
    p, q = rc / rc.sum(), cc / cc.sum()
    p_, q_ = np.where(p == 0, PSI_FLOOR, p), np.where(q == 0, PSI_FLOOR, q)
    if len(rc) > 1:
        chi = stats.chi2_contingency(np.vstack([rc, cc]), correction=False)
        chi_stat, chi_p = float(chi.statistic), float(chi.pvalue)
    else:
        chi_stat, chi_p = 0.0, 1.0
    return replace(base, js_distance=float(distance.jensenshannon(p, q, base=2)),
                   population_stability_index=float(np.sum((q_ - p_) * np.log(q_ / p_))),
                   chi_squared_statistic=chi_stat, chi_squared_pvalue=chi_p,
                   tv_distance=float(0.5 * np.abs(p - q).sum()),
                   l_infinity_distance=float(np.abs(p - q).max()), **extra)
