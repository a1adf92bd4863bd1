"""Blur (ImageNet-C): Gaussian, glass, defocus, motion and zoom blur.

Filtering goes through :mod:`perturbations.camera.filters` (OpenCV on NumPy, the
``cupyx.scipy.ndimage`` twin on CuPy), so none of these copies to the host on a GPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from perturbations.camera import filters
from perturbations.camera import severities as sev
from perturbations.camera.fields import LEVELS, uniform16
from perturbations.camera.image import check_image, check_shape, identity
from perturbations.registry import perturbation, severity_value
from perturbations.xp import draw_seed


# --- Gaussian blur ------------------------------------------------------------------------
@dataclass(frozen=True)
class GaussianBlurParams:
    sigma: float  # px


def apply_gaussian_blur(x: Any, params: GaussianBlurParams) -> Any:
    """Isotropic Gaussian blur, kernel cut at 4 sigma, edges replicated (skimage's defaults)."""
    check_image("gaussian_blur", x)
    if params.sigma == 0.0:
        return identity(x)
    return filters.gaussian(x, params.sigma, params.sigma)


@perturbation("gaussian_blur", kind="camera", apply=apply_gaussian_blur)
def sample_gaussian_blur(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> GaussianBlurParams:
    """Gaussian blur, sigma from ``GAUSSIAN_BLUR_SIGMA``; deterministic."""
    check_shape("gaussian_blur", shape)
    return GaussianBlurParams(sigma=float(severity_value(sev.GAUSSIAN_BLUR_SIGMA, severity, 0.0)))


# --- glass blur ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GlassBlurParams:
    sigma: float  # px
    max_delta: int  # px; offsets are drawn from -max_delta .. max_delta - 1
    iterations: int
    seed: int


def apply_glass_blur(x: Any, params: GlassBlurParams) -> Any:
    """Blur, locally scramble pixels ``iterations`` times, blur again.

    The published kernel swaps pixels one by one in a sequential loop (numba, not
    seedable); here every pass moves each pixel by an independent offset drawn
    from the same range, gathered in one vectorised step. The local displacement
    statistics match; the pass is a resampling rather than a permutation.
    """
    xp = check_image("glass_blur", x)
    if params.sigma == 0.0 and (params.max_delta == 0 or params.iterations == 0):
        return identity(x)
    h, w = x.shape[0], x.shape[1]
    y = filters.gaussian(x, params.sigma, params.sigma) if params.sigma > 0 else x
    if params.max_delta > 0 and params.iterations > 0:
        span = 2 * params.max_delta
        u = xp.astype(uniform16(x, params.seed, (params.iterations, 2, h, w)), xp.int32)
        offsets = (u * span) // LEVELS - params.max_delta
        rows = xp.reshape(xp.arange(h, dtype=xp.int32), (h, 1))
        cols = xp.reshape(xp.arange(w, dtype=xp.int32), (1, w))
        for i in range(params.iterations):
            src_r = xp.clip(rows + offsets[i, 0, ...], 0, h - 1)
            src_c = xp.clip(cols + offsets[i, 1, ...], 0, w - 1)
            flat = xp.reshape(y, (h * w, 3))
            y = xp.reshape(xp.take(flat, xp.reshape(src_r * w + src_c, (-1,)), axis=0), (h, w, 3))
    return filters.gaussian(y, params.sigma, params.sigma) if params.sigma > 0 else y


@perturbation("glass_blur", kind="camera", apply=apply_glass_blur)
def sample_glass_blur(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> GlassBlurParams:
    """Frosted-glass blur, (sigma, max offset, passes) from ``GLASS_BLUR``."""
    check_shape("glass_blur", shape)
    sigma, delta, iterations = severity_value(sev.GLASS_BLUR, severity, (0.0, 0.0, 0.0))
    return GlassBlurParams(sigma=float(sigma), max_delta=int(round(delta)), iterations=int(round(iterations)),
                           seed=draw_seed(rng))


# --- defocus blur -------------------------------------------------------------------------
@dataclass(frozen=True)
class DefocusBlurParams:
    radius: float  # px, of the disk (circle of confusion)
    alias_sigma: float  # px, anti-aliasing of the disk kernel


def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """Normalised, anti-aliased disk of ``radius`` px on a grid of at least 17 x 17 (float32)."""
    half = max(8, int(math.ceil(radius)))
    grid = np.arange(-half, half + 1, dtype=np.float32)
    disk = ((grid[:, None] ** 2 + grid[None, :] ** 2) <= radius**2).astype(np.float32)
    disk /= disk.sum()
    size = 3 if radius <= 8 else 5
    return cv2.GaussianBlur(disk, (size, size), sigmaX=max(alias_sigma, 1e-6))


def apply_defocus_blur(x: Any, params: DefocusBlurParams) -> Any:
    """Convolution with an anti-aliased disk (out-of-focus lens), mirrored edges."""
    check_image("defocus_blur", x)
    if params.radius == 0.0:
        return identity(x)
    return filters.correlate(x, disk_kernel(params.radius, params.alias_sigma), out_uint8=True)


@perturbation("defocus_blur", kind="camera", apply=apply_defocus_blur)
def sample_defocus_blur(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> DefocusBlurParams:
    """Defocus blur, (disk radius, alias sigma) from ``DEFOCUS_BLUR``; deterministic."""
    check_shape("defocus_blur", shape)
    radius, alias = severity_value(sev.DEFOCUS_BLUR, severity, (0.0, 0.0))
    return DefocusBlurParams(radius=float(radius), alias_sigma=float(alias))


# --- motion blur --------------------------------------------------------------------------
@dataclass(frozen=True)
class MotionBlurParams:
    radius: int  # px; the kernel has 2 * radius + 1 taps
    sigma: float  # px, of the one-sided Gaussian tap weights
    angle_deg: float  # direction of the smear, image axes (x right, y down)


def motion_kernel(radius: int, sigma: float, angle_deg: float) -> np.ndarray:
    """2-D correlation kernel of the published motion blur: tap i (weight exp(-i^2 / 2 sigma^2))
    samples the pixel at (round(i sin a), round(i cos a)), rounding halves down."""
    width = 2 * radius + 1
    i = np.arange(width, dtype=np.float64)
    weights = np.exp(-(i**2) / (2.0 * sigma**2))
    weights /= weights.sum()
    a = np.deg2rad(angle_deg)
    dy = np.ceil(i * np.sin(a) - 0.5).astype(np.int64)
    dx = np.ceil(i * np.cos(a) - 0.5).astype(np.int64)
    kernel = np.zeros((2 * width + 1, 2 * width + 1), np.float32)
    np.add.at(kernel, (width + dy, width + dx), weights.astype(np.float32))
    return kernel


def apply_motion_blur(x: Any, params: MotionBlurParams) -> Any:
    """Linear motion smear with one-sided Gaussian weights (camera shake during exposure)."""
    check_image("motion_blur", x)
    if params.radius == 0:
        return identity(x)
    return filters.correlate(x, motion_kernel(params.radius, params.sigma, params.angle_deg), border="replicate",
                             out_uint8=True)


@perturbation("motion_blur", kind="camera", apply=apply_motion_blur)
def sample_motion_blur(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> MotionBlurParams:
    """Motion blur, (radius, sigma) from ``MOTION_BLUR``, direction uniform in +-45 deg."""
    check_shape("motion_blur", shape)
    radius, sigma = severity_value(sev.MOTION_BLUR, severity, (0.0, 1.0))
    angle = float(rng.uniform(*sev.MOTION_BLUR_ANGLE_DEG))
    return MotionBlurParams(radius=int(round(radius)), sigma=float(sigma), angle_deg=angle)


# --- zoom blur ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ZoomBlurParams:
    zooms: tuple[float, ...]  # magnifications averaged with the image (1.0 included, as published)


def apply_zoom_blur(x: Any, params: ZoomBlurParams) -> Any:
    """Mean of the image and its magnifications about the centre (forward-motion blur).

    Each magnification is one bilinear resize of the central crop of the uint8
    image, summed in uint16. The zoom is about the exact image centre; the
    published crop rounding moves its zoom centre by up to a few px for zooms near 1.
    """
    xp = check_image("zoom_blur", x)
    if not params.zooms:
        return identity(x)
    acc = xp.astype(x, xp.uint16)
    for z in params.zooms:
        acc += x if z == 1.0 else filters.zoom_centre(x, z)  # uint16 += uint8 promotes in place
    n = len(params.zooms) + 1
    return xp.astype((acc + n // 2) // n, xp.uint8)


@perturbation("zoom_blur", kind="camera", apply=apply_zoom_blur)
def sample_zoom_blur(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> ZoomBlurParams:
    """Zoom blur, magnifications 1, 1 + step, ... < end with (end, step) from ``ZOOM_BLUR``; deterministic."""
    check_shape("zoom_blur", shape)
    end, step = severity_value(sev.ZOOM_BLUR, severity, (1.0, 0.01))
    count = max(0, int(math.ceil((end - 1.0) / step - 1e-9)))
    return ZoomBlurParams(zooms=tuple(round(1.0 + k * step, 6) for k in range(count)))
