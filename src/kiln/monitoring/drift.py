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


def preload_scipy() -> None:
    """Start importing scipy.stats (~1 s) in the background, once: the metrics need it
    last, after the sorting and counting that can run meanwhile."""
    global _preloading
    if _preloading is None:
        import importlib
        import threading

        _preloading = threading.Thread(target=importlib.import_module, args=("scipy.stats",),
                                       name="import-scipy", daemon=True)
        _preloading.start()


_preloading = None


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

    edges = np.unique(sorted_quantiles(ref_ok, DECILES))
    ref_counts, cur_counts = _bin_counts(ref_ok, edges), _bin_counts(cur_ok, edges)
    ks_stat, ks_p, wasserstein = _ks_and_wasserstein(ref_ok, cur_ok)
    return _with_distribution(base, ref_counts, cur_counts, ks_statistic=ks_stat,
                              ks_pvalue=ks_p, wasserstein_distance=wasserstein)


def sorted_quantiles(sorted_values: np.ndarray, qs: np.ndarray | tuple[float, ...]
                     ) -> np.ndarray:
    """``np.quantile(sorted_values, qs)`` (method "linear") of non-empty sorted values,
    without the partition: the virtual index ``(n - 1) * q`` and numpy's interpolation
    between its two neighbours, done the same way so the results are identical."""
    n = len(sorted_values)
    virtual = (n - 1) * np.asarray(qs, dtype=float)
    below = np.floor(virtual)
    gamma = virtual - below
    top = virtual >= n - 1  # at or past the last value: that value
    lo = np.where(top, n - 1, below).astype(np.intp)
    hi = np.where(top, n - 1, lo + 1)
    a, b = sorted_values[lo], sorted_values[hi]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


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
    n1, n2 = len(a), len(b)
    values = np.concatenate([a, b])
    order = np.argsort(values, kind="stable")  # two sorted runs: a linear merge
    merged = values[order]
    in_a = np.cumsum(order < n1)  # how many of a are at or before each position
    # the counts at the last value of each run of equal values are the
    # searchsorted(..., side="right") counts of every value in the run
    last = np.empty(len(merged), dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=last[:-1])
    last[-1] = True
    if last.all():  # no ties: every position ends its own run
        ends = np.arange(len(merged))
    else:
        ends = np.flatnonzero(last)
        in_a, merged = in_a[ends], merged[ends]
    diffs = in_a / n1 - (ends + 1 - in_a) / n2  # each run once: the same extremes
    d = float(max(diffs.max(), np.clip(-diffs.min(), 0, 1)))
    if max(n1, n2) <= KS_EXACT_MAX_N:
        from scipy import stats

        pvalue = float(stats.ks_2samp(a, b).pvalue)
    else:
        m, n = sorted([float(n1), float(n2)], reverse=True)
        pvalue = _ks_asymptotic_pvalue(d, np.round(m * n / (m + n)))
    # |cdf1 - cdf2| times the gap to the next value; gaps inside a run are zero
    # (a sum of products, as scipy does; np.dot would wake BLAS threads that then spin)
    wasserstein = float(np.sum(np.abs(diffs[:-1]) * np.diff(merged)))
    return d, pvalue, wasserstein


def _ks_asymptotic_pvalue(d: float, n: float) -> float:
    """``scipy.stats.distributions.kstwo.sf(d, n)``, clipped to [0, 1], as ks_2samp's
    "asymp" method computes it. Where scipy sums the one-sided Smirnov series in a C loop
    that holds the GIL for ~0.1 s at n ~ 10^5 (n*d^2 in [2.2, 370), where the two-sided
    tail is twice the one-sided one), the same series is summed here in vectorized form;
    the results agree to ~1e-15. Elsewhere scipy's own routine is fast and is called."""
    if n > 140 and 1 < n * d < n - 1 and d < 0.5 and 2.2 <= n * d * d < 370:
        return float(np.clip(2 * smirnov_sf(n, d), 0, 1))
    from scipy import stats

    return float(np.clip(stats.distributions.kstwo.sf(d, n), 0, 1))


def smirnov_sf(n: float, x: float) -> float:
    """P(D+_n >= x) of the one-sided one-sample Kolmogorov-Smirnov statistic, from the
    Birnbaum-Tingey series x * sum_j C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1) over
    j = 0..floor(n(1 - x)), each term in logs and the sum scaled by its largest term
    (every term is positive, so nothing cancels)."""
    from scipy.special import gammaln

    j = np.arange(int(np.floor(n * (1 - x))) + 1, dtype=float)
    with np.errstate(divide="ignore"):  # the last term can be 0 ** (n - j)
        log_terms = (gammaln(n + 1) - gammaln(j + 1) - gammaln(n - j + 1)
                     + (n - j) * np.log1p(-(x + j / n)) + (j - 1) * np.log(x + j / n))
    top = log_terms.max()
    return float(x * np.exp(top) * np.exp(log_terms - top).sum())


def categorical_drift(ref: list[Any], cur: list[Any]) -> Drift:
    """``ref`` and ``cur`` as lists with None for nulls."""
    ref_ok = [v for v in ref if v is not None]
    cur_ok = [v for v in cur if v is not None]
    cats = sorted(set(ref_ok) | set(cur_ok), key=repr)
    index = {c: i for i, c in enumerate(cats)}
    ref_counts = np.bincount(np.array([index[v] for v in ref_ok], dtype=np.intp),
                             minlength=len(cats))
    cur_counts = np.bincount(np.array([index[v] for v in cur_ok], dtype=np.intp),
                             minlength=len(cats))
    return categorical_counts_drift(len(ref), len(cur), ref_counts, cur_counts)


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

    keep = (ref_counts + cur_counts) > 0
    rc, cc = ref_counts[keep].astype(float), cur_counts[keep].astype(float)
    p, q = rc / rc.sum(), cc / cc.sum()
    p_, q_ = np.where(p == 0, PSI_FLOOR, p), np.where(q == 0, PSI_FLOOR, q)
    chi_stat, chi_p = _chi_squared(rc, cc) if len(rc) > 1 else (0.0, 1.0)
    return replace(base, js_distance=_js_distance(p, q),
                   population_stability_index=float(np.sum((q_ - p_) * np.log(q_ / p_))),
                   chi_squared_statistic=chi_stat, chi_squared_pvalue=chi_p,
                   tv_distance=float(0.5 * np.abs(p - q).sum()),
                   l_infinity_distance=float(np.abs(p - q).max()), **extra)


def _chi_squared(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-squared test of independence on the 2 x k table [ref, cur] (no
    continuity correction): sum of (observed - expected)^2 / expected, with the expected
    counts from the margins, and its upper tail on k - 1 degrees of freedom. What
    ``scipy.stats.chi2_contingency(..., correction=False)`` gives, without its per-call
    overhead (~1.5 ms, which adds up over every column of every window)."""
    from scipy.special import chdtrc

    observed = np.vstack([ref_counts, cur_counts])
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return statistic, float(chdtrc(len(ref_counts) - 1, statistic))


def _js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance in bits: the square root of the mean of the Kullback-Leibler
    divergences of p and q from their midpoint."""
    from scipy.special import rel_entr

    m = (p + q) / 2
    divergence = (rel_entr(p, m).sum() + rel_entr(q, m).sum()) / np.log(2)
    return float(np.sqrt(max(divergence, 0.0) / 2))  # rounding can dip below 0
