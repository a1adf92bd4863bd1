"""The counter-based uniforms of the lidar weather: SplitMix64 by hand, uniform by a KS test, the same
bytes on every array module and in the compiled kernels that draw them in place."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

from perturbations.lidar.weather_compiled import _uniform
from perturbations.xp import counter_uniform


def splitmix64(seed: int, k: int) -> int:
    """Output k (0-based) of SplitMix64 started at ``seed``, in Python integers."""
    mask = 2**64 - 1
    z = (seed + (k + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def test_elements_are_the_top_24_bits_of_splitmix64():
    seed = 0x1234_5678_9ABC_DEF0
    u = counter_uniform(np.zeros(1, np.float32), seed, (2, 50))
    assert u.dtype == np.float32 and u.shape == (2, 50)
    flat = u.ravel()
    for k in (0, 1, 49, 50, 99):
        assert flat[k] == np.float32((splitmix64(seed, k) >> 40) / 2**24)


def test_uniform_on_the_unit_interval():
    u = counter_uniform(np.zeros(1, np.float32), 7, (200_000,)).astype(np.float64)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01  # neighbours (consecutive rays) uncorrelated


def test_same_bytes_on_array_api_arrays_and_in_compiled_kernels():
    xps = pytest.importorskip("array_api_strict")
    seed = 2**63 - 25
    want = counter_uniform(np.zeros(1, np.float32), seed, (3, 1000))
    strict = counter_uniform(xps.asarray(np.zeros(1, np.float32)), seed, (3, 1000))
    assert np.asarray(strict).tobytes() == want.tobytes()

    @numba.njit
    def drawn_in_place(seed, n):  # noqa: ANN001, ANN202
        out = np.empty(n, np.float32)
        for k in range(n):
            out[k] = _uniform(seed, k)
        return out

    assert drawn_in_place(np.uint64(seed), 3000).tobytes() == want.tobytes()
