"""The ndimage paths of the filters (what CuPy runs, through cupyx.scipy.ndimage) agree with
the OpenCV paths (what NumPy runs), checked here with scipy.ndimage standing in."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage

from contract_inputs import textured_image
from perturbations.camera import filters
from perturbations.camera.blur import motion_kernel


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return textured_image(64, 80)


@pytest.mark.parametrize("border", ["replicate", "reflect", "reflect101"])
def test_gaussian_paths_agree(image, border):
    cv = filters.gaussian(image, 2.0, 3.0, border=border).astype(float)
    nd = filters._nd_gaussian(scipy.ndimage, np, image, 2.0, 3.0, 4.0, border).astype(float)
    assert np.abs(cv - nd).max() <= 1.0


def test_correlate_paths_agree(image):
    k = motion_kernel(4, 3.0, 25.0)
    cv = filters.correlate(image, k, border="replicate")
    nd = filters._nd_correlate(scipy.ndimage, np, image, k, "replicate")
    np.testing.assert_allclose(cv, nd, atol=1e-3)


def test_remap_paths_agree(image):
    h, w = image.shape[:2]
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    map_y, map_x = rows + 1.3 * np.sin(cols / 7), cols + 0.7 * np.cos(rows / 5)
    cv = filters.remap(image, map_y, map_x, border="reflect").astype(float)
    nd = filters._nd_remap(scipy.ndimage, np, image, map_y, map_x, "reflect").astype(float)
    assert np.abs(cv - nd)[2:-2, 2:-2].max() <= 1.0  # OpenCV's bilinear weights are 5-bit fixed point


def test_zoom_centre_crops_and_scales_about_the_centre(image):
    z = filters.zoom_centre(image, 2.0)
    h, w = image.shape[:2]
    # the centre pixel stays (to interpolation accuracy) and the corner shows the quarter-way point
    assert np.abs(z[h // 2, w // 2].astype(int) - image[h // 2, w // 2]).max() <= 40
    crop = image[h // 4: h // 4 + h // 2, w // 4: w // 4 + w // 2]
    small = filters.zoom_centre(image, 2.0)[::2, ::2].astype(float)
    assert np.abs(small - crop).mean() < 25  # same content, 2x magnified
