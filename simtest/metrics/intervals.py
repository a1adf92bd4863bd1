"""Confidence intervals for a miss rate (a binomial proportion), plain and episode-clustered.

* :func:`clopper_pearson` — exact two-sided interval from beta quantiles.
* :func:`wilson` — score interval (a good approximation, never outside [0, 1]).
* :func:`episode_bootstrap` — percentile interval of the ratio estimator,
  resampling whole episodes (frames of one episode are correlated).
* :func:`design_effect` / :func:`clustered_bounds` — the Korn–Graubard
  interval: Clopper–Pearson on the *effective* sample size ``n / deff``, where
  the design effect ``deff`` is the ratio of the episode-clustered (sandwich)
  variance to the binomial one, floored at 1. This is what safety gates use.

All bounds accept scalars or numpy arrays (broadcast). Confidence is a level in
(0, 1), e.g. 0.95.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


_BLOCK = 4_000_000  # bootstrap draws held in memory at once


def check_confidence(confidence: float, where: str = "confidence") -> float:
    c = float(confidence)
    if not (0.0 < c < 1.0):
        raise ValueError(f"{where}: a confidence level must lie strictly between 0 and 1 (e.g. 0.95), got {confidence}")
    return c


def _check_counts(k: np.ndarray, n: np.ndarray) -> None:
    if np.any(n <= 0):
        raise ValueError("interval: n (number of samples) must be positive; a subset with no samples has no rate")
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("interval: misses k must satisfy 0 <= k <= n")


def _out(lo: np.ndarray, hi: np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def beta_lower(k: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Clopper–Pearson lower bound at lower-tail probability ``q`` (0 when k = 0); k, n may be non-integer."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    safe = np.where(k > 0, k, 1.0)
    return np.where(k > 0, stats.beta.ppf(q, safe, n - safe + 1), 0.0)


def beta_upper(k: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Clopper–Pearson upper bound at lower-tail probability ``q`` (1 when k = n); k, n may be non-integer."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    room = n - k > 0
    safe = np.where(room, k, np.maximum(n - 1.0, 0.0))
    return np.where(room, stats.beta.ppf(q, safe + 1, np.where(room, n - safe, 1.0)), 1.0)


def clopper_pearson(k, n, confidence: float = 0.95):
    """Exact two-sided Clopper–Pearson interval ``(lo, hi)`` for k misses in n samples."""
    c = check_confidence(confidence)
    k, n = np.asarray(k, float), np.asarray(n, float)
    _check_counts(k, n)
    a = 1.0 - c
    return _out(beta_lower(k, n, a / 2), beta_upper(k, n, 1 - a / 2))


def _wilson(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def wilson(k, n, confidence: float = 0.95):
    """Two-sided Wilson score interval ``(lo, hi)``."""
    c = check_confidence(confidence)
    k, n = np.asarray(k, float), np.asarray(n, float)
    _check_counts(k, n)
    return _out(*_wilson(k, n, float(stats.norm.ppf(1 - (1 - c) / 2))))


def episode_bootstrap(
    misses: np.ndarray,
    samples: np.ndarray,
    *,
    confidence: float = 0.95,
    n_boot: int = 1000,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile interval of the miss rate, resampling episodes (not frames) with replacement.

    ``misses[e]`` and ``samples[e]`` are the misses and object-frames of episode
    ``e``; each bootstrap replicate draws as many episodes as there are and
    takes the ratio ``sum(misses) / sum(samples)``.
    """
    c = check_confidence(confidence)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("episode_bootstrap: pass rng=np.random.default_rng(seed); randomness must be explicit")
    misses, samples = np.asarray(misses, float), np.asarray(samples, float)
    if misses.shape != samples.shape or misses.ndim != 1 or len(misses) == 0:
        raise ValueError(f"episode_bootstrap: misses {misses.shape} and samples {samples.shape} must be equal non-empty 1-D arrays")
    if n_boot < 10:
        raise ValueError(f"episode_bootstrap: n_boot must be at least 10, got {n_boot}")
    m = len(misses)
    block = max(1, _BLOCK // m)  # replicates per block, to bound memory
    rate = np.empty(n_boot)
    for lo in range(0, n_boot, block):
        idx = rng.integers(0, m, size=(min(block, n_boot - lo), m))
        rate[lo : lo + len(idx)] = misses[idx].sum(axis=1) / np.maximum(samples[idx].sum(axis=1), 1e-300)
    a = 1.0 - c
    lo, hi = np.quantile(rate, [a / 2, 1 - a / 2])
    return float(lo), float(hi)


def design_effect(misses: np.ndarray, samples: np.ndarray) -> float:
    """Design effect of episode clustering on the pooled miss rate (>= 1).

    Ratio of the cluster-robust variance of ``K/N`` (episodes as clusters,
    ``m/(m-1) * sum((k_e - p n_e)^2) / N^2``) to the binomial ``p(1-p)/N``.
    Without misses (or hits) or with a single episode the correlation cannot be
    estimated and 1 is returned.
    """
    misses, samples = np.asarray(misses, float), np.asarray(samples, float)
    m, big_n, big_k = len(misses), samples.sum(), misses.sum()
    if m < 2 or big_n <= 0:
        return 1.0
    p = big_k / big_n
    if p <= 0.0 or p >= 1.0:
        return 1.0
    v_cluster = m / (m - 1) * np.sum((misses - p * samples) ** 2) / big_n**2
    v_binom = p * (1 - p) / big_n
    return float(max(1.0, v_cluster / v_binom))


def clustered_bounds(k: float, n: float, deff: float, confidence: float, *, one_sided: bool) -> tuple[float, float]:
    """Korn–Graubard bounds: Clopper–Pearson on ``(k/deff, n/deff)``.

    ``one_sided=True`` gives a lower and an upper bound each at ``confidence``
    (what a gate decides on); otherwise a two-sided interval at ``confidence``.
    """
    c = check_confidence(confidence)
    k_e, n_e = np.asarray(k / deff, float), np.asarray(n / deff, float)
    _check_counts(k_e, n_e)
    q = 1 - c if one_sided else (1 - c) / 2
    return float(beta_lower(k_e, n_e, q)), float(beta_upper(k_e, n_e, 1 - q))


def one_sided_bounds(k: float, n: float, confidence: float, method: str, deff: float = 1.0) -> tuple[float, float]:
    """Lower and upper one-sided bounds, each at ``confidence``, by ``method``.

    ``clustered`` (Korn–Graubard with ``deff``), ``clopper-pearson`` (frames
    independent) or ``wilson``.
    """
    c = check_confidence(confidence)
    if method == "clustered":
        return clustered_bounds(k, n, deff, c, one_sided=True)
    if method == "clopper-pearson":
        return clustered_bounds(k, n, 1.0, c, one_sided=True)
    if method == "wilson":
        lo, hi = _wilson(np.asarray(float(k)), np.asarray(float(n)), float(stats.norm.ppf(c)))
        return float(lo), float(hi)
    raise ValueError(f"interval method {method!r} is not one of 'clustered', 'clopper-pearson', 'wilson'")


def zero_failure_samples(limit: float, confidence: float) -> int:
    """Miss-free samples needed to show ``rate <= limit`` at ``confidence``: n >= ln(1-c) / ln(1-p)."""
    if not (0.0 < limit < 1.0):
        raise ValueError(f"zero_failure_samples: limit must lie in (0, 1), got {limit}")
    c = check_confidence(confidence)
    return math.ceil(math.log1p(-c) / math.log1p(-limit) - 1e-9)


def samples_needed(k: float, n: float, limit: float, confidence: float, method: str, deff: float = 1.0) -> int:
    """Further miss-free samples after which the one-sided upper bound falls to ``limit`` or below.

    With no misses and Clopper–Pearson this is zero-failure planning,
    ``ceil(deff * ln(1-c)/ln(1-p)) - n``; with misses the smallest such count is
    found by bisection (the upper bound falls monotonically as miss-free samples
    are added). The design effect is assumed to stay as measured.
    """

    def upper(extra: int) -> float:
        return one_sided_bounds(k, n + extra, confidence, method, deff)[1]

    if upper(0) <= limit:
        return 0
    if k == 0 and method != "wilson":
        need = zero_failure_samples(limit, confidence) * deff - n
        extra = max(0, math.ceil(need - 1e-9))
        while upper(extra) > limit:  # guard against rounding at the boundary
            extra += 1
        return extra
    lo, hi = 0, max(1, int(n))
    while upper(hi) > limit:
        lo, hi = hi, hi * 2
        if hi > 10**15:
            raise ValueError(f"samples_needed: no practical sample size reaches limit {limit} with {k} misses")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if upper(mid) <= limit:
            hi = mid
        else:
            lo = mid
    return hi
