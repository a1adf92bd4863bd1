"""VaR/CVaR against closed forms, hand-computed discrete cases and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from synthetic_rows import counts_rows, rows

from simtest.metrics.risk import cvar_summary, episode_losses, tail_shares, var_cvar


def _tail_se(x: np.ndarray, alpha: float) -> float:
    tail = np.sort(x)[int(alpha * len(x)) :]
    return float(np.std(tail) / np.sqrt(len(tail)))


@pytest.mark.parametrize("alpha", [0.9, 0.95, 0.99])
def test_closed_forms(alpha):
    rng = np.random.default_rng(11)
    n = 200_000
    cases = {
        # distribution: (sample, VaR, CVaR)
        "uniform": (rng.uniform(size=n), alpha, (1 + alpha) / 2),
        "exponential": (rng.exponential(size=n), -np.log(1 - alpha), 1 - np.log(1 - alpha)),
        "normal": (rng.normal(size=n), stats.norm.ppf(alpha), stats.norm.pdf(stats.norm.ppf(alpha)) / (1 - alpha)),
    }
    for name, (x, var_true, cvar_true) in cases.items():
        var, cvar = var_cvar(x, alpha)
        se = _tail_se(x, alpha)
        # VaR: quantile standard error sqrt(a(1-a)/n)/f(q), bounded here by 5 tail standard errors.
        assert abs(var - var_true) < 5 * se + 1e-3, name
        assert abs(cvar - cvar_true) < 5 * se + 1e-3, name


@pytest.mark.parametrize(
    ("losses", "weights", "alpha", "var", "cvar"),
    [
        ([1, 2, 3, 4], None, 0.5, 2.0, 3.5),  # tail = {3, 4}
        ([1, 2, 3, 4], None, 0.6, 3.0, 3.625),  # tail 0.4 = 0.25 of 4 + 0.15 of the atom at 3
        ([4, 1, 3, 2], None, 0.6, 3.0, 3.625),  # order does not matter
        ([1, 2, 2, 2, 5], None, 0.7, 2.0, 4.0),  # ties: (0.1 * 2 + 0.2 * 5) / 0.3
        ([0, 0, 1, 1], None, 0.9, 1.0, 1.0),
        ([1, 2, 3, 4], None, 0.0, 1.0, 2.5),  # alpha = 0: the mean
        ([1, 2, 3], [0.5, 0.3, 0.2], 0.9, 3.0, 3.0),
        ([1, 2, 3], [0.5, 0.3, 0.2], 0.6, 2.0, 2.5),  # (0.2 * 2 + 0.2 * 3) / 0.4
        ([1, 2, 3], [5, 3, 2], 0.6, 2.0, 2.5),  # weights need not sum to 1
        ([3, 1, 2], [2, 5, 3], 0.6, 2.0, 2.5),
        (list(range(1, 21)), None, 0.95, 19.0, 20.0),  # boundary exactly on an atom edge
    ],
)
def test_discrete_cases_by_hand(losses, weights, alpha, var, cvar):
    v, c = var_cvar(losses, alpha, weights)
    assert v == pytest.approx(var)
    assert c == pytest.approx(cvar)


def test_integer_weights_equal_repetition():
    rng = np.random.default_rng(3)
    x = rng.normal(size=30)
    w = rng.integers(1, 5, 30)
    for alpha in (0.5, 0.8, 0.95):
        assert var_cvar(x, alpha, w) == pytest.approx(var_cvar(np.repeat(x, w), alpha))


def test_tail_shares_sum_to_one_and_recover_cvar():
    x = np.array([1.0, 2, 2, 2, 5])
    p = np.full(5, 0.2)
    share = tail_shares(x, p, 0.7)
    assert share.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(share, [0, 1 / 9, 1 / 9, 1 / 9, 2 / 3])
    assert float(share @ x) == pytest.approx(var_cvar(x, 0.7)[1])


@pytest.mark.parametrize(
    ("losses", "weights", "alpha", "message"),
    [([], None, 0.9, "no losses"), ([1, np.nan], None, 0.9, "NaN"), ([1, 2], None, 1.0, "alpha"),
     ([1, 2], [1, -1], 0.5, "non-negative"), ([1, 2], [1], 0.5, "one weight per loss")],
)
def test_var_cvar_bad_input(losses, weights, alpha, message):
    with pytest.raises(ValueError, match=message):
        var_cvar(losses, alpha, weights)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=200, deadline=None, derandomize=True)  # reproducible in CI
@given(
    x=st.lists(finite, min_size=1, max_size=40),
    a1=st.floats(min_value=0.0, max_value=0.99),
    a2=st.floats(min_value=0.0, max_value=0.99),
    data=st.data(),
)
def test_properties(x, a1, a2, data):
    w = data.draw(st.none() | st.lists(st.floats(min_value=0.01, max_value=10), min_size=len(x), max_size=len(x)))
    lo, hi = sorted((a1, a2))
    v_lo, c_lo = var_cvar(x, lo, w)
    v_hi, c_hi = var_cvar(x, hi, w)
    mean = float(np.average(x, weights=w))
    tol = 1e-9 * (1 + max(abs(t) for t in x))
    assert c_lo >= v_lo - tol and c_hi >= v_hi - tol  # CVaR >= VaR
    assert c_lo >= mean - tol and c_hi >= mean - tol  # CVaR >= mean
    assert c_hi >= c_lo - tol and v_hi >= v_lo - tol  # monotone in alpha
    assert c_hi <= max(x) + tol


def test_episode_losses_by_hand():
    df = rows(
        # episode 0: 4 critical object-frames, 1 missed at 5 m -> 0.25; one non-critical miss ignored.
        {"episode": 0, "frame": 0, "detected": False, "distance": 5.0},
        {"episode": 0, "frame": 1, "detected": True, "distance": 15.0},
        {"episode": 0, "frame": 2, "detected": True, "distance": 30.0},
        {"episode": 0, "frame": 3, "detected": True, "distance": 30.0},
        {"episode": 0, "frame": 3, "detected": False, "critical": False, "object_id": 2},
        # episode 1: only a false positive -> no exposure, loss 0.
        {"episode": 1, "frame": 0, "row_type": "fp", "object_id": -1},
    )
    out = episode_losses(df).set_index("episode")
    assert out.loc[0, "loss"] == pytest.approx(0.25) and out.loc[0, "exposure"] == 4
    assert out.loc[1, "loss"] == 0.0 and out.loc[1, "exposure"] == 0
    w = 1 / (1 + np.array([5.0, 15, 30, 30]) / 10)
    weighted = episode_losses(df, loss="closeness_weighted").set_index("episode")
    assert weighted.loc[0, "loss"] == pytest.approx(w[0] / w.sum())
    assert episode_losses(df, loss="miss_fraction").set_index("episode").loc[0, "loss"] == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match="loss 'worst'"):
        episode_losses(df, loss="worst")


def test_cvar_summary_uses_odd_cell_weights():
    # Cell A: one episode, no misses; cell B (fog): one episode, all missed.
    a = counts_rows(np.array([0]), np.array([10]), cell="A")
    b = counts_rows(np.array([10]), np.array([10]), cell="B")
    df = pd.concat([a, b], ignore_index=True)
    equal = cvar_summary(df, alpha=0.8, n_boot=0)
    assert (equal.var, equal.cvar, equal.mean) == pytest.approx((1.0, 1.0, 0.5))
    odd = cvar_summary(df, alpha=0.8, cell_weights={"A": 0.9, "B": 0.1}, n_boot=0)
    # P(L = 1) = 0.1 < 0.2: VaR = 0, CVaR = (0.1 * 0 + 0.1 * 1) / 0.2 = 0.5.
    assert (odd.var, odd.cvar, odd.mean) == pytest.approx((0.0, 0.5, 0.1))
    cells = {r["cell"]: r for r in odd.tail_cells}
    assert cells["B"]["share"] == pytest.approx(0.5) and cells["B"]["contribution"] == pytest.approx(0.5)
    assert odd.tail_episodes[0]["cell"] == "B"
    with pytest.raises(ValueError, match="no ODD weight for cell"):
        cvar_summary(df, cell_weights={"A": 1.0}, n_boot=0)


def test_cvar_summary_bootstrap_is_reproducible_and_brackets_the_estimate():
    rng = np.random.default_rng(5)
    misses = rng.binomial(20, rng.beta(0.5, 10, 60))
    df = counts_rows(misses, np.full(60, 20))
    s1 = cvar_summary(df, alpha=0.9, rng=np.random.default_rng(1), n_boot=500)
    s2 = cvar_summary(df, alpha=0.9, rng=np.random.default_rng(1), n_boot=500)
    assert s1 == s2
    assert s1.cvar_lower <= s1.cvar <= s1.cvar_upper
    assert s1.cvar >= s1.var >= 0 and s1.cvar >= s1.mean
    d = s1.to_dict()
    assert d["alpha"] == 0.9 and isinstance(d["tail_episodes"], list)
    with pytest.raises(ValueError, match="rng"):
        cvar_summary(df, n_boot=100)
