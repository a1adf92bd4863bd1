"""Statistics for comparing two runs: paired and unpaired tests of miss-rate differences.

Frames of one episode are correlated, so every test here treats the *episode* as the
independent unit (cluster):

* paired runs (same cell seed, same ground truth row for row): McNemar on the paired
  outcomes, both the exact frame-level test and its episode-clustered form
  (Durkalski et al. 2003, Stat. Med. 22:2417) referred to F(1, K−1) for K episodes;
* unpaired runs (different seeds): a cluster-robust (ratio-estimator) two-sample test
  of proportions with a Satterthwaite t reference;
* bootstrap intervals resample episodes within each cell (stratified by cell, since
  cells are fixed by the design), jointly for paired runs and separately otherwise;
* multiple-test corrections across cells: Holm (family-wise) and Benjamini–Hochberg (FDR).

Differences are always ``candidate − base`` miss rates (positive = candidate worse).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

CORRECTIONS = ("holm", "fdr")


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``."""
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar_exact: discordant counts must be non-negative, got b={b}, c={c}")
    if b + c == 0:
        return 1.0
    return float(stats.binomtest(int(b), int(b + c), 0.5).pvalue)


def clustered_mcnemar(b_k: np.ndarray, c_k: np.ndarray) -> tuple[float, float]:
    """Episode-clustered McNemar (Durkalski 2003): ``(statistic, p)``.

    ``b_k``/``c_k`` are per-episode counts of pairs where only the candidate / only
    the base missed. X² = (Σ(b−c))² / Σ(b−c)²; with one pair per cluster it equals the
    classical McNemar χ². The p-value uses F(1, K−1) (K clusters), which tends to χ²(1)
    for many episodes and does not overstate evidence for few.
    """
    d = np.asarray(b_k, float) - np.asarray(c_k, float)
    k = d.size
    denom = float(np.sum(d**2))
    if k == 0 or denom == 0.0:
        return 0.0, 1.0
    x2 = float(d.sum() ** 2 / denom)
    if k < 2:
        return x2, 1.0
    return x2, float(stats.f.sf(x2, 1, k - 1))


def collapse_strata(strata: np.ndarray | None, size: int) -> np.ndarray:
    """Stratum labels with every single-episode stratum merged into one shared stratum.

    A stratum (cell) with one episode carries no within-stratum variance; pooling such
    strata keeps their variability in the estimate instead of silently dropping it.
    """
    if strata is None:
        return np.zeros(size, dtype=object)
    labels = np.asarray(strata, dtype=object).copy()
    uniq, counts = np.unique(labels.astype(str), return_counts=True)
    singles = set(uniq[counts < 2])
    if singles:
        labels[np.isin(labels.astype(str), list(singles))] = "(single-episode cells)"
    return labels


def cluster_rate_variance(n_k: np.ndarray, m_k: np.ndarray, strata: np.ndarray | None = None) -> float:
    """Cluster-robust variance of the ratio estimator Σm/Σn over K clusters (episodes).

    With ``strata`` (the cell of each episode) the variance is taken within cells, as
    cells are fixed by the design; single-episode cells are pooled (:func:`collapse_strata`).
    """
    n_k = np.asarray(n_k, float)
    m_k = np.asarray(m_k, float)
    n = n_k.sum()
    if n_k.size < 2 or n == 0:
        return math.nan
    e = m_k - m_k.sum() / n * n_k
    labels = collapse_strata(strata, n_k.size)
    total = 0.0
    for h in np.unique(labels.astype(str)):
        eh = e[labels.astype(str) == h]
        if eh.size >= 2:
            total += eh.size / (eh.size - 1) * float(np.sum((eh - eh.mean()) ** 2))
    return total / n**2


def _df(k: int, strata: np.ndarray | None) -> int:
    return max(k - len(np.unique(collapse_strata(strata, k).astype(str))), 1)


def unpaired_test(
    n1: np.ndarray, m1: np.ndarray, n2: np.ndarray, m2: np.ndarray,
    strata1: np.ndarray | None = None, strata2: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Two-sample test of miss rates from per-episode counts: ``(diff, t, p)``.

    Each run's variance is the cluster-robust one (within cells when ``strata`` are
    given), floored at the binomial variance of the pooled rate (the design effect is
    never taken below 1). The reference is a t distribution with Satterthwaite degrees
    of freedom.
    """
    N1, N2 = float(np.sum(n1)), float(np.sum(n2))
    if N1 == 0 or N2 == 0:
        return math.nan, math.nan, math.nan
    p1, p2 = float(np.sum(m1)) / N1, float(np.sum(m2)) / N2
    pooled = (float(np.sum(m1)) + float(np.sum(m2))) / (N1 + N2)
    v1 = max(np.nan_to_num(cluster_rate_variance(n1, m1, strata1)), pooled * (1 - pooled) / N1)
    v2 = max(np.nan_to_num(cluster_rate_variance(n2, m2, strata2)), pooled * (1 - pooled) / N2)
    diff = p2 - p1
    if v1 + v2 == 0:
        return diff, 0.0, 1.0
    t = diff / math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / _df(len(n1), strata1) + v2**2 / _df(len(n2), strata2))
    return diff, t, float(2 * stats.t.sf(abs(t), df))


def _stratified_weights(strata: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap multiplicities (n_boot × K): episodes resampled within each (collapsed) stratum."""
    labels = collapse_strata(strata, len(strata)).astype(str)
    w = np.zeros((n_boot, labels.size))
    for s in np.unique(labels):
        idx = np.flatnonzero(labels == s)
        w[:, idx] = rng.multinomial(idx.size, np.full(idx.size, 1.0 / idx.size), size=n_boot)
    return w


def paired_bootstrap(
    n_k: np.ndarray, d_k: np.ndarray, strata: np.ndarray, *, rng: np.random.Generator, n_boot: int, confidence: float
) -> tuple[float, float]:
    """Percentile interval of Σd/Σn, resampling episodes (jointly for both runs) within cells.

    ``d_k`` is the per-episode (candidate misses − base misses) over the same objects.
    """
    w = _stratified_weights(strata, n_boot, rng)
    den = w @ np.asarray(n_k, float)
    est = np.divide(w @ np.asarray(d_k, float), den, out=np.full(n_boot, np.nan), where=den > 0)
    a = (1 - confidence) / 2
    return float(np.nanquantile(est, a)), float(np.nanquantile(est, 1 - a))


def unpaired_bootstrap(
    base: tuple[np.ndarray, np.ndarray, np.ndarray],
    cand: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    rng: np.random.Generator,
    n_boot: int,
    confidence: float,
) -> tuple[float, float]:
    """Percentile interval of the difference in miss rate; each run's episodes resampled on their own.

    ``base``/``cand`` are ``(n_k, m_k, strata)`` per episode.
    """
    rates = []
    for n_k, m_k, strata in (base, cand):
        w = _stratified_weights(strata, n_boot, rng)
        den = w @ np.asarray(n_k, float)
        rates.append(np.divide(w @ np.asarray(m_k, float), den, out=np.full(n_boot, np.nan), where=den > 0))
    est = rates[1] - rates[0]
    a = (1 - confidence) / 2
    return float(np.nanquantile(est, a)), float(np.nanquantile(est, 1 - a))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(p, float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order]).clip(max=1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false-discovery-rate control)."""
    p = np.asarray(p, float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values by ``method`` (``holm`` or ``fdr``)."""
    if method == "holm":
        return holm(p)
    if method == "fdr":
        return benjamini_hochberg(p)
    raise ValueError(f"correction {method!r} is not one of {CORRECTIONS}; use --correction holm or fdr")


def minimal_detectable_difference(
    n_k: np.ndarray,
    m_k: np.ndarray,
    *,
    alpha: float,
    power: float = 0.8,
    strata: np.ndarray | None = None,
    paired_d_k: np.ndarray | None = None,
) -> float:
    """Smallest miss-rate increase detectable with ``power`` at two-sided level ``alpha``.

    With z = z₁₋α/₂ + z_power and V the base run's cluster-robust variance of its miss
    rate (floored at the binomial variance at rate max(p̂, 1/n)), D = V / (p̂(1−p̂)/n)
    its design effect:

    * unpaired: MDD = z·√(2V) (two independent runs of this size);
    * paired (``paired_d_k`` = per-episode candidate − base misses): extra misses add
      variance ≈ D·Δ/n to the observed paired variance V₀, so MDD solves
      Δ² = z²(V₀ + D·Δ/n), i.e. Δ = (z²D/n + √((z²D/n)² + 4z²V₀)) / 2.
    """
    n = float(np.sum(n_k))
    if n == 0:
        return math.nan
    z = float(stats.norm.isf(alpha / 2) + stats.norm.ppf(power))
    p = min(max(float(np.sum(m_k)) / n, 1.0 / n), 1.0 - 1.0 / n) if n >= 2 else 0.5
    binom = p * (1 - p) / n
    v = max(np.nan_to_num(cluster_rate_variance(n_k, m_k, strata)), binom)
    if paired_d_k is None:
        return z * math.sqrt(2 * v)
    d = np.asarray(paired_d_k, float)
    e = d - d.sum() / n * np.asarray(n_k, float)
    v0 = float(np.sum(e**2)) / n**2 * (d.size / max(d.size - 1, 1))
    a = z**2 * (v / binom) / n
    return (a + math.sqrt(a**2 + 4 * z**2 * v0)) / 2


def decide(diff: float, p_adjusted: float, *, alpha: float, tolerance: float) -> str:
    """REGRESSION / IMPROVEMENT when significant after correction *and* beyond the tolerance."""
    if not (p_adjusted < alpha) or math.isnan(diff):
        return "NO CHANGE"
    if diff > tolerance:
        return "REGRESSION"
    if diff < -tolerance:
        return "IMPROVEMENT"
    return "NO CHANGE"
