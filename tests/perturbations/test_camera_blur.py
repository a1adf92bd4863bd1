"""Camera blur: kernels against hand calculations, scipy and the published implementation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from contract_inputs import textured_image
from perturbations import perturb, perturb_recorded
from perturbations.camera import severities as sev
from perturbations.camera.blur import (
    GlassBlurParams,
    MotionBlurParams,
    apply_glass_blur,
    apply_motion_blur,
    disk_kernel,
    motion_kernel,
)

imagecorruptions = pytest.importorskip("imagecorruptions")


def _reference(x: np.ndarray, severity: int, name: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return imagecorruptions.corrupt(x, severity=severity, corruption_name=name).astype(np.float64)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return textured_image(120, 160)


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_gaussian_blur_matches_scipy(image, severity):
    sigma = sev.GAUSSIAN_BLUR_SIGMA[severity - 1]
    want = ndimage.gaussian_filter(image.astype(np.float64), (sigma, sigma, 0), mode="nearest", truncate=4.0)
    got = perturb(image, "gaussian_blur", severity, np.random.default_rng(0)).astype(np.float64)
    assert np.abs(got - want).max() <= 1.0  # 8-bit rounding only


@pytest.mark.parametrize("name", ["gaussian_blur", "defocus_blur"])
@pytest.mark.parametrize("severity", [1, 3, 5])
def test_deterministic_blurs_match_the_published_implementation(image, name, severity):
    got = perturb(image, name, severity, np.random.default_rng(0)).astype(np.float64)
    want = _reference(image, severity, name)
    # the published code truncates to 8 bits where we round (0.5 DN mean)
    assert np.abs(got - want).mean() < 1.0


@pytest.mark.parametrize("severity", [1, 3, 5])
def test_zoom_blur_is_the_mean_of_centred_zooms_close_to_the_published_one(image, severity):
    got = perturb(image, "zoom_blur", severity, np.random.default_rng(0)).astype(np.float64)
    _, rec = perturb_recorded(image, "zoom_blur", severity, np.random.default_rng(0))
    h, w = image.shape[:2]
    layers = [image.astype(np.float64)]
    for z in rec.params.zooms:  # exact centred magnification with scipy, as a hand-built reference
        ch, cw = math.ceil(h / z), math.ceil(w / z)
        top, left = (h - ch) // 2, (w - cw) // 2
        sy, sx = ch / h, cw / w
        layers.append(ndimage.affine_transform(image.astype(np.float64), [sy, sx, 1.0], order=1, mode="nearest",
                                               offset=[top + 0.5 * sy - 0.5, left + 0.5 * sx - 0.5, 0.0]))
    want = np.mean(layers, axis=0)
    assert np.abs(got - want).mean() < 0.6
    # the published crop rounding moves the zoom centre by a few px for zooms near 1 (sharp checkerboard here)
    assert np.abs(got - _reference(image, severity, "zoom_blur")).mean() < 6.0


def test_motion_blur_matches_the_published_smear_at_the_same_angle(image):
    from imagecorruptions.corruptions import _motion_blur

    radius, sigma = sev.MOTION_BLUR[2]
    got = apply_motion_blur(image, MotionBlurParams(radius=radius, sigma=sigma, angle_deg=30.0)).astype(np.float64)
    want = np.clip(_motion_blur(image, radius=radius, sigma=sigma, angle=30.0), 0, 255)
    assert np.abs(got - want).mean() < 0.8


def test_motion_kernel_weights_and_direction():
    k = motion_kernel(radius=3, sigma=2.0, angle_deg=0.0)
    width = 7
    assert k.sum() == pytest.approx(1.0, rel=1e-6)
    centre = width  # anchor of the (2 * width + 1)^2 kernel
    row = k[centre]
    assert row.sum() == pytest.approx(1.0, rel=1e-6)  # angle 0: every tap on the centre row
    taps = row[centre:centre + width]
    want = np.exp(-np.arange(width) ** 2 / 8.0)
    np.testing.assert_allclose(taps, want / want.sum(), rtol=1e-6)
    down = motion_kernel(radius=3, sigma=2.0, angle_deg=90.0)
    assert down[centre:, centre].sum() == pytest.approx(1.0, rel=1e-6)  # 90 deg: along +rows


def test_disk_kernel_is_a_normalised_disk_of_the_radius():
    k = disk_kernel(6.0, 0.5)
    assert k.shape == (17, 17) and k.sum() == pytest.approx(1.0, rel=1e-5)
    yy, xx = np.mgrid[-8:9, -8:9]
    assert k[(yy**2 + xx**2) > 8**2].max() < 1e-6  # nothing beyond the radius plus the anti-aliasing
    assert k[8, 8] == pytest.approx(1 / ((yy**2 + xx**2) <= 36).sum(), rel=0.05)
    assert disk_kernel(10.0, 0.5).shape == (21, 21)


def test_zoom_blur_of_a_flat_image_is_the_image():
    flat = np.full((64, 96, 3), 77, np.uint8)
    np.testing.assert_array_equal(perturb(flat, "zoom_blur", 5, np.random.default_rng(0)), flat)


def test_zoom_blur_levels_use_the_published_zoom_lists():
    _, rec = perturb_recorded(textured_image(), "zoom_blur", 3, np.random.default_rng(0))
    np.testing.assert_allclose(rec.params.zooms, np.arange(1, 1.21, 0.02), atol=1e-9)
    _, rec = perturb_recorded(textured_image(), "zoom_blur", 4, np.random.default_rng(0))
    np.testing.assert_allclose(rec.params.zooms, np.arange(1, 1.26, 0.02), atol=1e-9)


def test_zoom_blur_keeps_the_centre_and_smears_the_edges(image):
    y = perturb(image, "zoom_blur", 5, np.random.default_rng(0)).astype(np.float64)
    d = np.abs(y - image).mean(-1)
    h, w = d.shape
    assert d[h // 2 - 3:h // 2 + 3, w // 2 - 3:w // 2 + 3].mean() < d[:10].mean() / 3


def test_glass_blur_takes_each_pixel_from_within_the_table_offset():
    # pixels that carry their own coordinates; no Gaussian: one pass moves by -2..1 px on each axis
    rows, cols = np.mgrid[0:64, 0:64]
    x = np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.uint8)
    y = apply_glass_blur(x, GlassBlurParams(sigma=0.0, max_delta=2, iterations=1, seed=9)).astype(int)
    dy, dx = (y[..., 0] - rows)[2:-2, 2:-2], (y[..., 1] - cols)[2:-2, 2:-2]
    assert set(np.unique(dy)) == {-2, -1, 0, 1} and set(np.unique(dx)) == {-2, -1, 0, 1}
    for d in (dy, dx):  # uniform over the 4 offsets
        assert np.abs(np.bincount((d + 2).ravel()) / d.size - 0.25).max() < 0.03


def test_glass_blur_is_reproducible_unlike_the_published_one(image):
    a = perturb(image, "glass_blur", 3, np.random.default_rng(1))
    b = perturb(image, "glass_blur", 3, np.random.default_rng(1))
    c = perturb(image, "glass_blur", 3, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # close to the published output in how much it changes the image
    change = np.abs(a.astype(float) - image).mean()
    assert change == pytest.approx(np.abs(_reference(image, 3, "glass_blur") - image).mean(), rel=0.25)


def test_glass_blur_interpolated_levels_round_offsets():
    _, rec = perturb_recorded(textured_image(), "glass_blur", 2.5, np.random.default_rng(0))
    assert (rec.params.max_delta, rec.params.iterations) == (2, 2)
    assert math.isclose(rec.params.sigma, 0.95)
