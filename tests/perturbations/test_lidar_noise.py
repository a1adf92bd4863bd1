"""Behaviour of the lidar noise kernels (perturbations/lidar/noise.py)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from perturbations import perturb, perturb_recorded
from perturbations.lidar.synthetic import make_scan


@pytest.fixture(scope="module")
def scan():
    return make_scan(np.random.default_rng(0))


def _ranges(scan):
    return np.linalg.norm(scan.points[:, :3] - np.asarray(scan.origin), axis=1)


def test_gaussian_jitter_has_the_tabulated_std_and_spares_intensity(scan):
    out = perturb(scan, "lidar_gaussian_noise", 3, np.random.default_rng(1))
    d = (out.points[:, :3] - scan.points[:, :3]).astype(np.float64)
    assert d.std() == pytest.approx(0.06, rel=0.02)
    assert abs(d.mean()) < 1e-3
    np.testing.assert_array_equal(out.points[:, 3], scan.points[:, 3])
    np.testing.assert_array_equal(out.ring, scan.ring)


def test_uniform_jitter_is_bounded_with_the_uniform_variance(scan):
    out = perturb(scan, "lidar_uniform_noise", 5, np.random.default_rng(1))
    d = (out.points[:, :3] - scan.points[:, :3]).astype(np.float64)
    assert np.abs(d).max() <= 0.10 + 1e-5
    assert d.var() == pytest.approx(0.10**2 / 3, rel=0.02)


def test_impulse_noise_moves_a_share_by_exactly_one_step(scan):
    out = perturb(scan, "lidar_impulse_noise", 5, np.random.default_rng(2))
    d = (out.points[:, :3] - scan.points[:, :3]).astype(np.float64)
    moved = np.any(np.abs(d) > 1e-6, axis=1)
    assert abs(moved.mean() - 0.1) < 4 * math.sqrt(0.09 / len(scan))
    np.testing.assert_allclose(np.abs(d[moved]), 0.1, atol=1e-5)


def test_intensity_noise_leaves_geometry_and_stays_in_range(scan):
    out = perturb(scan, "lidar_intensity_noise", 3, np.random.default_rng(3))
    np.testing.assert_array_equal(out.points[:, :3], scan.points[:, :3])
    i = out.points[:, 3]
    assert i.min() >= 0 and i.max() <= 1
    d = (i - scan.points[:, 3]).astype(np.float64)
    far_from_clip = (scan.points[:, 3] > 0.4) & (scan.points[:, 3] < 0.6)  # >= 4 sigma from 0 and 1
    assert far_from_clip.sum() > 1000
    assert d[far_from_clip].std() == pytest.approx(0.10, rel=0.05)


def test_crosstalk_moves_returns_along_their_own_ray(scan):
    out = perturb(scan, "lidar_crosstalk", 5, np.random.default_rng(4))
    o = np.asarray(scan.origin)
    a, b = scan.points[:, :3] - o, out.points[:, :3] - o
    moved = np.linalg.norm(a - b, axis=1) > 1e-4
    assert abs(moved.mean() - 0.02) < 4 * math.sqrt(0.02 * 0.98 / len(scan)) + 1e-3
    cos = np.sum(a[moved] * b[moved], axis=1) / (np.linalg.norm(a[moved], axis=1) * np.linalg.norm(b[moved], axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-5)  # same direction, new range
    assert np.std(_ranges(out)[moved] - _ranges(scan)[moved]) == pytest.approx(3.0, rel=0.15)


def test_sun_glare_acts_toward_the_sun_and_before_the_true_echo(scan):
    out, rec = perturb_recorded(scan, "lidar_sun_glare", 5, np.random.default_rng(5))
    o = np.asarray(scan.origin)
    moved = np.linalg.norm(out.points[:, :3] - scan.points[:, :3], axis=1) > 1e-4
    assert moved.any()
    az = np.degrees(np.arctan2(scan.points[moved, 1] - o[1], scan.points[moved, 0] - o[0]))
    off = (az - rec.params.sun_azimuth_deg + 180.0) % 360.0 - 180.0
    assert np.all(np.abs(off) <= 30.0 + 1e-3)
    assert np.all(_ranges(out)[moved] <= _ranges(scan)[moved] + 1e-4)
    assert np.all(out.points[moved, 3] == 1.0)


def test_noise_fields_follow_their_distributions_by_ks_test():
    from scipy import stats

    from perturbations.xp import host_noise

    z = host_noise(11, (3, 40_001), "normal").astype(np.float64)  # odd size: the last pair is cut
    assert z.dtype == np.float64 and z.shape == (3, 40_001)
    flat = z.ravel()
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    half = flat.size // 2  # cosine and sine halves: each N(0, 1), uncorrelated
    for part in (flat[:half], flat[half:]):
        assert stats.kstest(part, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(flat[:half], flat[half : 2 * half])[0, 1]) < 4 / math.sqrt(half)
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 4 / math.sqrt(flat.size)
    # tails: P(|z| > 3) = 0.0027 (hand value 2 (1 - Phi(3)))
    n = flat.size
    assert abs((np.abs(flat) > 3).mean() - 0.0027) < 4 * math.sqrt(0.0027 / n)

    u = host_noise(11, (7, 9_999), "uniform").astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    assert abs(np.corrcoef(u.ravel()[:-1], u.ravel()[1:])[0, 1]) < 4 / math.sqrt(u.size)


def test_noise_fields_are_seeded_bytes():
    from perturbations.xp import host_noise

    for kind in ("normal", "uniform"):
        a, b, c = host_noise(3, (2, 1001), kind), host_noise(3, (2, 1001), kind), host_noise(4, (2, 1001), kind)
        assert a.tobytes() == b.tobytes()
        assert a.tobytes() != c.tobytes()
    with pytest.raises(ValueError, match="normal' or 'uniform"):
        host_noise(3, (4,), "poisson")


def test_gaussian_jitter_per_axis_passes_a_ks_test(scan):
    from scipy import stats

    out, rec = perturb_recorded(scan, "lidar_gaussian_noise", 5, np.random.default_rng(7))
    scale = rec.params.scale
    assert scale == 0.10
    d = (out.points[:, :3].astype(np.float64) - scan.points[:, :3]) / scale
    for k in range(3):
        assert stats.kstest(d[:, k], "norm").pvalue > 1e-3
    assert abs(np.corrcoef(d[:, 0], d[:, 1])[0, 1]) < 4 / math.sqrt(len(scan))


def test_noise_kernels_run_on_array_api_strict_with_the_numpy_bytes(scan):
    xps = pytest.importorskip("array_api_strict")
    strict = dataclasses.replace(scan, points=xps.asarray(scan.points), ring=xps.asarray(scan.ring), labels=None)
    for name in ("lidar_gaussian_noise", "lidar_uniform_noise", "lidar_impulse_noise", "lidar_crosstalk", "lidar_sun_glare"):
        want = perturb(scan, name, 4, np.random.default_rng(8))
        got = perturb(strict, name, 4, np.random.default_rng(8))
        np.testing.assert_array_equal(np.asarray(got.points), want.points, err_msg=name)


def test_impulse_signs_are_uniform_over_the_eight_octants(scan):
    from scipy import stats

    out = perturb(scan, "lidar_impulse_noise", 5, np.random.default_rng(9))
    d = (out.points[:, :3].astype(np.float64) - scan.points[:, :3])
    moved = np.any(np.abs(d) > 1e-6, axis=1)
    np.testing.assert_array_equal(out.points[~moved], scan.points[~moved])  # untouched rows keep their bytes
    pattern = ((d[moved] > 0).astype(int) * (1, 2, 4)).sum(axis=1)
    counts = np.bincount(pattern, minlength=8)
    assert stats.chisquare(counts).pvalue > 1e-3
