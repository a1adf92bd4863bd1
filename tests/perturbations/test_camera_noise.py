"""Camera noise: the statistics of each kernel follow its published definition."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from perturbations import perturb_recorded
from perturbations.camera import fields
from perturbations.camera import severities as sev
from perturbations.camera.noise import NoiseParams, apply_impulse_noise, apply_shot_noise

FLAT = 50  # a dark grey level: no clipping at 0 or 255 for the tested strengths


def _flat(value: int = FLAT, h: int = 256, w: int = 256) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_normal_field_is_standard_normal_and_seeded():
    a = fields.host_normal(3, (200_000,))
    assert abs(a.mean()) < 0.01 and abs(a.std() - 1) < 0.01
    assert stats.kstest(a[:20_000], "norm").pvalue > 1e-3
    np.testing.assert_array_equal(a, fields.host_normal(3, (200_000,)))
    assert not np.array_equal(a, fields.host_normal(4, (200_000,)))


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_gaussian_noise_std_is_the_table_value(severity):
    x = _flat(128)
    y, rec = perturb_recorded(x, "gaussian_noise", severity, np.random.default_rng(0))
    std = sev.GAUSSIAN_NOISE_STD[severity - 1]
    d = (y.astype(np.float64) - x) / 255
    # clipping at 0 and 255 only matters beyond 127/255 = 0.5 std units at most 1.3 sigma for level 5
    if severity < 5:
        assert d.std() == pytest.approx(std, rel=0.02)
        assert abs(d.mean()) < 0.003
    assert rec.params.strength == std


@pytest.mark.parametrize("photons", [60.0, 12.0, 3.0])
def test_shot_noise_is_poisson_with_the_photon_count(photons):
    x = _flat(FLAT)
    y = apply_shot_noise(x, NoiseParams(strength=photons, seed=1)).astype(np.float64)
    lam = FLAT / 255 * photons
    counts = y / 255 * photons  # back to photon counts (exact up to 8-bit rounding)
    k = np.arange(200)
    pmf = stats.poisson.pmf(k, lam)
    clipped = np.minimum(k, photons)  # the published output is clipped at 1, i.e. at `photons` photons
    mean = (pmf * clipped).sum()
    assert counts.mean() == pytest.approx(mean, rel=0.01)
    assert counts.var() == pytest.approx((pmf * clipped**2).sum() - mean**2, rel=0.03)
    # the share of zero-photon pixels is exp(-lambda)
    assert (y == 0).mean() == pytest.approx(math.exp(-lam), abs=0.005)


def test_shot_noise_level_three_uses_twelve_photons():
    _, rec = perturb_recorded(_flat(), "shot_noise", 3, np.random.default_rng(0))
    assert rec.params.strength == pytest.approx(12.0)
    _, half = perturb_recorded(_flat(), "shot_noise", 0.5, np.random.default_rng(0))
    assert half.params.strength == pytest.approx(120.0)  # 1/photons interpolated from 0


@pytest.mark.parametrize("amount", [0.03, 0.27])
def test_impulse_noise_flips_the_share_half_to_black_half_to_white(amount):
    x = _flat(128, 300, 300)
    y = apply_impulse_noise(x, NoiseParams(strength=amount, seed=2))
    n = x.size
    assert (y == 0).mean() == pytest.approx(amount / 2, abs=4 * math.sqrt(amount / 2 / n))
    assert (y == 255).mean() == pytest.approx(amount / 2, abs=4 * math.sqrt(amount / 2 / n))
    assert ((y == 0) | (y == 255) | (y == 128)).all()
    # per channel independently: some pixels have exactly one channel hit
    hits = ((y != 128).sum(-1))
    assert (hits == 1).mean() == pytest.approx(3 * amount * (1 - amount) ** 2, rel=0.05)


def test_speckle_noise_is_proportional_to_the_signal():
    dark, bright = _flat(40), _flat(120)
    y_dark, _ = perturb_recorded(dark, "speckle_noise", 1, np.random.default_rng(5))
    y_bright, _ = perturb_recorded(bright, "speckle_noise", 1, np.random.default_rng(5))
    rel_dark = (y_dark.astype(np.float64) / 40 - 1).std()
    rel_bright = (y_bright.astype(np.float64) / 120 - 1).std()
    assert rel_dark == pytest.approx(sev.SPECKLE_NOISE_STD[0], rel=0.03)
    assert rel_bright == pytest.approx(sev.SPECKLE_NOISE_STD[0], rel=0.03)
