"""exp32 / log32 (perturbations/lidar/weather_compiled.py) give the correctly rounded float32 result, the float64
value of NumPy's exp/log rounded once to float32: on every 1 - u the lidar takes the log of, and on millions of
inputs sampled across float32 (subnormal results and overflow included)."""

import numba as nb
import numpy as np

from perturbations.lidar.weather_compiled import exp32, log32


@nb.njit(error_model="numpy")
def _each(f, x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = f(x[i])
    return out


def _rounded(f, x):
    with np.errstate(over="ignore"):
        return f(x.astype(np.float64)).astype(np.float32)


def test_log32_is_correctly_rounded_on_every_one_minus_uniform():
    # the lidar takes log(1 - u) of its 24-bit uniforms u = k / 2^24: all 2^24 of them
    y = (1.0 - np.arange(2**24, dtype=np.float64) / 2**24).astype(np.float32)
    assert np.array_equal(_each(log32, y), _rounded(np.log, y))


def test_log32_across_the_float32_range():
    rng = np.random.default_rng(0)
    bits = rng.integers(1, np.float32(np.finfo(np.float32).max).view(np.int32), 4_000_000, dtype=np.int32)
    y = np.concatenate([bits.view(np.float32), np.array([1e-45, 1.1754944e-38, 0.5, 1.0, 2.0, 3.4028235e38], np.float32)])
    assert np.array_equal(_each(log32, y), _rounded(np.log, y))


def test_exp32_is_correctly_rounded_with_underflow_and_overflow():
    # float32 exponents spread evenly over their bit patterns in [-104, 89], where the result goes from 0
    # through the subnormals to inf, plus the ends
    rng = np.random.default_rng(1)
    top = np.float32(104.0).view(np.int32)
    x = rng.integers(0, top, 4_000_000, dtype=np.int32).view(np.float32) * rng.choice(np.float32([-1, 1]), 4_000_000)
    x = np.concatenate([x, np.array([-np.inf, -200.0, -103.97, -87.5, -1e-30, 0.0, 88.72, 88.73, 200.0, np.inf], np.float32)])
    got, want = _each(exp32, x), _rounded(np.exp, x)
    assert np.array_equal(got, want)
    assert got[-10] == 0.0 and got[-1] == np.inf and got[-5] == 1.0
    assert 0 < got[-8] < np.finfo(np.float32).tiny  # a subnormal, not flushed to zero
