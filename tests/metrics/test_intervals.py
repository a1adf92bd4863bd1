"""Confidence intervals: exactness against scipy, coverage, clustering, sample planning."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simtest.metrics import intervals
from simtest.metrics.safety import clopper_pearson, episode_bootstrap, wilson


@pytest.mark.parametrize(("k", "n"), [(0, 1), (0, 10), (1, 10), (3, 100), (10, 10), (7, 3000), (250, 500)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_equals_scipy_exact(k, n, confidence):
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    lo, hi = clopper_pearson(k, n, confidence)
    assert lo == pytest.approx(ref.low, abs=1e-12)
    assert hi == pytest.approx(ref.high, abs=1e-12)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 100), (10, 10), (40, 90)])
def test_wilson_equals_scipy(k, n):
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson(k, n, 0.95)
    assert lo == pytest.approx(ref.low, abs=1e-12)
    assert hi == pytest.approx(ref.high, abs=1e-12)


def test_vectorised_bounds_match_scalar():
    k, n = np.array([0, 5, 9]), np.array([10, 50, 9])
    lo, hi = clopper_pearson(k, n)
    for i in range(3):
        assert (lo[i], hi[i]) == pytest.approx(clopper_pearson(int(k[i]), int(n[i])))


@pytest.mark.parametrize(("k", "n"), [(-1, 10), (11, 10), (0, 0)])
def test_bad_counts_are_rejected(k, n):
    with pytest.raises(ValueError, match="n \\(number of samples\\)|0 <= k <= n"):
        clopper_pearson(k, n)


def test_bad_confidence_is_rejected():
    with pytest.raises(ValueError, match="confidence"):
        wilson(1, 10, 1.5)


def test_coverage_holds_nominal_level():
    """Draw many binomial samples; the 95 % intervals must contain the true rate >= ~95 % of the time."""
    rng = np.random.default_rng(1)
    trials = 4000
    for p, n in [(0.01, 200), (0.1, 50), (0.3, 30)]:
        k = rng.binomial(n, p, trials)
        lo, hi = clopper_pearson(k, np.full(trials, n), 0.95)
        cp = np.mean((lo <= p) & (p <= hi))
        assert cp >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)  # exact interval: conservative
        lo, hi = wilson(k, np.full(trials, n), 0.95)
        wl = np.mean((lo <= p) & (p <= hi))
        assert wl >= 0.92  # Wilson is approximate but close to nominal
        # One-sided upper bound (what gates use) covers at its own level.
        up = intervals.beta_upper(k, np.full(trials, n), 0.95)
        assert np.mean(p <= up) >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)


def _clustered_data(rng, episodes=40, frames=50, base=0.05, spread=1.5):
    """Episode-level random effects: misses cluster within episodes."""
    logit = math.log(base / (1 - base)) + rng.normal(0, spread, episodes)
    p = 1 / (1 + np.exp(-logit))
    n = np.full(episodes, frames)
    return rng.binomial(n, p), n, float(np.mean(p))


def test_episode_bootstrap_is_wider_than_naive_on_clustered_data():
    rng = np.random.default_rng(2)
    k, n, _ = _clustered_data(rng)
    naive = clopper_pearson(int(k.sum()), int(n.sum()))
    boot = episode_bootstrap(k, n, n_boot=2000, rng=np.random.default_rng(3))
    assert boot[1] - boot[0] > 1.5 * (naive[1] - naive[0])
    deff = intervals.design_effect(k, n)
    assert deff > 2.0
    clustered = intervals.clustered_bounds(k.sum(), n.sum(), deff, 0.95, one_sided=False)
    assert clustered[1] - clustered[0] > 1.5 * (naive[1] - naive[0])


def test_clustered_interval_covers_the_population_rate_where_naive_does_not():
    """Across repeated clustered data sets the naive interval under-covers; the clustered one does not."""
    rng = np.random.default_rng(4)
    truth = None
    hits_naive = hits_clustered = 0
    reps = 300
    # Population rate of the random-effects model, by a big Monte Carlo draw.
    logit = math.log(0.05 / 0.95) + rng.normal(0, 1.0, 2_000_000)
    truth = float(np.mean(1 / (1 + np.exp(-logit))))
    for _ in range(reps):
        k, n, _ = _clustered_data(rng, episodes=30, frames=40, spread=1.0)
        lo, hi = clopper_pearson(int(k.sum()), int(n.sum()))
        hits_naive += lo <= truth <= hi
        deff = intervals.design_effect(k, n)
        lo, hi = intervals.clustered_bounds(k.sum(), n.sum(), deff, 0.95, one_sided=False)
        hits_clustered += lo <= truth <= hi
    assert hits_naive / reps < 0.85
    assert hits_clustered / reps >= 0.90


def test_design_effect_is_one_for_independent_frames():
    rng = np.random.default_rng(5)
    n = np.full(200, 50)
    k = rng.binomial(n, 0.1)
    assert intervals.design_effect(k, n) < 1.3
    assert intervals.design_effect(np.zeros(5), np.full(5, 10.0)) == 1.0  # no misses: not estimable


def test_bootstrap_needs_an_explicit_generator_and_is_reproducible():
    k, n = np.array([0, 2, 5]), np.array([10, 10, 10])
    with pytest.raises(ValueError, match="rng"):
        episode_bootstrap(k, n, rng=None)  # type: ignore[arg-type]
    a = episode_bootstrap(k, n, rng=np.random.default_rng(7))
    b = episode_bootstrap(k, n, rng=np.random.default_rng(7))
    assert a == b


@pytest.mark.parametrize(("limit", "confidence", "expected"), [(1e-3, 0.95, 2995), (1e-2, 0.95, 299), (1e-3, 0.99, 4603)])
def test_zero_failure_planning_by_hand(limit, confidence, expected):
    # n >= ln(1-c)/ln(1-p): ln(0.05)/ln(0.999) = 2994.2 -> 2995; ln(0.05)/ln(0.99) = 298.07 -> 299;
    # ln(0.01)/ln(0.999) = 4602.9 -> 4603.
    assert intervals.zero_failure_samples(limit, confidence) == expected
    # The Clopper-Pearson one-sided bound agrees: it passes exactly from that n on.
    assert intervals.one_sided_bounds(0, expected, confidence, "clopper-pearson")[1] <= limit
    assert intervals.one_sided_bounds(0, expected - 1, confidence, "clopper-pearson")[1] > limit


def test_samples_needed_with_misses_is_the_smallest_passing_count():
    k, n, limit = 3, 1000, 1e-3
    m = intervals.samples_needed(k, n, limit, 0.95, "clopper-pearson")
    assert intervals.one_sided_bounds(k, n + m, 0.95, "clopper-pearson")[1] <= limit
    assert intervals.one_sided_bounds(k, n + m - 1, 0.95, "clopper-pearson")[1] > limit
    # Three misses need about 7.75 / p samples in total (Poisson: chi2(0.95, 8) / 2 = 7.75).
    assert n + m == pytest.approx(stats.chi2.ppf(0.95, 8) / 2 / limit, rel=0.01)
