"""Measurement noise: Gaussian, uniform and impulse jitter of the coordinates, intensity
noise, crosstalk from other lidars and sun-glare noise. ``Scan -> Scan``; the point
count and rings are kept."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from perturbations.lidar import severities as sev
from perturbations.lidar.checks import lidar_kernel
from perturbations.lidar.rays import in_sector, move_along_ray, ranges, with_columns
from perturbations.lidar.scan import Scan
from perturbations.registry import perturbation, severity_value
from perturbations.xp import draw_seed, namespace, noise


def _shifted(scan: Scan, d: Any) -> Scan:
    """The scan with row ``k`` of ``d`` (3 x N, m) added to coordinate ``k``; intensity unchanged.

    Adds column by column into one fresh copy of the points: an N x 3 view would
    make NumPy loop over rows of three.
    """
    xp = namespace(scan.points)
    out = xp.asarray(scan.points, copy=True)
    for k in range(3):
        out[:, k] += d[k, :]
    return scan.with_points(out)


def _replaced(scan: Scan, hit: Any, rows: Any) -> Scan:
    """The scan with the points flagged by ``hit`` replaced by ``rows`` (one per hit, in order).

    The corrupting kernels below touch a few percent of the returns: they compute
    on those rows only and write them into one copy (a boolean-mask assignment,
    which the Array API allows when the mask is the sole index).
    """
    xp = namespace(scan.points)
    out = xp.asarray(scan.points, copy=True)
    out[hit] = rows
    return scan.with_points(out)


@dataclass(frozen=True)
class JitterParams:
    """Jitter scale (m): standard deviation (Gaussian) or half-width (uniform); noise seed."""

    scale: float
    seed: int


def apply_gaussian_noise(scan: Scan, params: JitterParams) -> Scan:
    """Add N(0, scale^2) to each of x, y, z (intensity untouched)."""
    if params.scale == 0:
        return scan
    d = noise(scan.points, params.seed, (3, len(scan)), "normal")
    d *= params.scale  # in place: the field is ours
    return _shifted(scan, d)


@perturbation("lidar_gaussian_noise", kind="lidar", apply=lidar_kernel(apply_gaussian_noise))
def sample_gaussian_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> JitterParams:
    """Gaussian jitter of the coordinates (3D_Corruptions_AD)."""
    return JitterParams(scale=float(severity_value(sev.GAUSSIAN_JITTER_M, severity, 0.0)), seed=draw_seed(rng))


def apply_uniform_noise(scan: Scan, params: JitterParams) -> Scan:
    """Add U(-scale, scale) to each of x, y, z."""
    if params.scale == 0:
        return scan
    d = noise(scan.points, params.seed, (3, len(scan)), "uniform")
    d *= 2.0 * params.scale  # in place: the field is ours
    d -= params.scale
    return _shifted(scan, d)


@perturbation("lidar_uniform_noise", kind="lidar", apply=lidar_kernel(apply_uniform_noise))
def sample_uniform_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> JitterParams:
    """Uniform jitter of the coordinates (3D_Corruptions_AD)."""
    return JitterParams(scale=float(severity_value(sev.UNIFORM_JITTER_M, severity, 0.0)), seed=draw_seed(rng))


@dataclass(frozen=True)
class ImpulseParams:
    """Share of points hit, and the seed of which points and which signs."""

    fraction: float
    seed: int


def apply_impulse_noise(scan: Scan, params: ImpulseParams) -> Scan:
    """Move the hit points by +-IMPULSE_STEP_M on each axis.

    One uniform draw ``u`` per point: ``u < fraction`` selects it, and given that,
    ``u / fraction`` is uniform on [0, 1) and independent of the selection, so its
    top three bits give the x, y and z signs.
    """
    if params.fraction == 0:
        return scan
    xp = namespace(scan.points)
    u = noise(scan.points, params.seed, (len(scan),), "uniform")
    hit = u < params.fraction
    sub = scan.points[hit]
    bits = xp.minimum(xp.astype(u[hit] * (8.0 / params.fraction), xp.int32), 7)  # uniform on 0..7
    moved = [
        sub[:, k] + sev.IMPULSE_STEP_M * xp.astype(((bits >> k) & 1) * 2 - 1, sub.dtype) for k in range(3)
    ]
    return _replaced(scan, hit, xp.stack(moved + [sub[:, 3]], axis=1))


@perturbation("lidar_impulse_noise", kind="lidar", apply=lidar_kernel(apply_impulse_noise))
def sample_impulse_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> ImpulseParams:
    """Impulse noise: a share of points displaced by a fixed step (3D_Corruptions_AD)."""
    return ImpulseParams(fraction=float(severity_value(sev.IMPULSE_FRACTION, severity, 0.0)), seed=draw_seed(rng))


@dataclass(frozen=True)
class IntensityNoiseParams:
    """Standard deviation of the additive intensity noise (reflectivity units) and its seed."""

    std: float
    seed: int


def apply_intensity_noise(scan: Scan, params: IntensityNoiseParams) -> Scan:
    """Add N(0, std^2) to the intensity, clipped to [0, 1]; coordinates untouched."""
    if params.std == 0:
        return scan
    xp = namespace(scan.points)
    p = scan.points
    i = xp.clip(p[:, 3] + params.std * noise(p, params.seed, (len(scan),), "normal"), 0.0, 1.0)
    return with_columns(scan, p[:, 0], p[:, 1], p[:, 2], i)


@perturbation("lidar_intensity_noise", kind="lidar", apply=lidar_kernel(apply_intensity_noise))
def sample_intensity_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> IntensityNoiseParams:
    """Intensity noise (receiver gain noise)."""
    return IntensityNoiseParams(std=float(severity_value(sev.INTENSITY_NOISE_STD, severity, 0.0)), seed=draw_seed(rng))


@dataclass(frozen=True)
class CrosstalkParams:
    """Share of returns corrupted by another lidar's pulses; seeds of which returns and of their range errors."""

    fraction: float
    select_seed: int
    error_seed: int


def apply_crosstalk(scan: Scan, params: CrosstalkParams) -> Scan:
    """Corrupted returns move along their own ray by a N(0, 3 m) range error.

    An interfering pulse changes the time of flight, not the beam direction, so
    the false return stays on the ray (3D_Corruptions_AD's 3 m scale; ranges are
    kept above 0.5 m). The i-th corrupted return gets the i-th normal draw.
    """
    if params.fraction == 0:
        return scan
    xp = namespace(scan.points)
    hit = noise(scan.points, params.select_seed, (len(scan),), "uniform") < params.fraction
    sub = scan.take(hit)
    count = len(sub)
    if count == 0:
        return scan
    r = ranges(sub)
    err = noise(scan.points, params.error_seed, (count,), "normal")
    new_r = xp.maximum(r + sev.CROSSTALK_STD_M * err, xp.asarray(0.5, dtype=r.dtype))
    return _replaced(scan, hit, move_along_ray(sub, xp.ones((count,), dtype=xp.bool), new_r, r=r))


@perturbation("lidar_crosstalk", kind="lidar", apply=lidar_kernel(apply_crosstalk))
def sample_crosstalk(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> CrosstalkParams:
    """Crosstalk between lidars (3D_Corruptions_AD shares)."""
    fraction = float(severity_value(sev.CROSSTALK_FRACTION, severity, 0.0))
    return CrosstalkParams(fraction=fraction, select_seed=draw_seed(rng), error_seed=draw_seed(rng))


@dataclass(frozen=True)
class SunGlareParams:
    """Sun azimuth (deg), share of all returns corrupted, and the noise seed."""

    sun_azimuth_deg: float
    fraction: float
    seed: int


def apply_sun_glare(scan: Scan, params: SunGlareParams) -> Scan:
    """Sunlight triggers early detections in the sun's direction.

    Within +-SUN_GLARE_HALF_WIDTH_DEG of the sun's azimuth, returns are replaced
    (with the probability that makes ``fraction`` of all returns corrupt on an
    evenly covered scan) by false returns at a uniform range between 0.5 m and the
    true range, with saturated intensity: ambient photons cross the threshold
    before the echo arrives.
    """
    if params.fraction == 0:
        return scan
    xp = namespace(scan.points)
    half = math.radians(sev.SUN_GLARE_HALF_WIDTH_DEG)
    p_sector = min(1.0, params.fraction * math.pi / half)
    u = noise(scan.points, params.seed, (len(scan),), "uniform")
    hit = in_sector(scan, math.radians(params.sun_azimuth_deg) - half, 2 * half) & (u < p_sector)
    sub = scan.take(hit)
    if len(sub) == 0:
        return scan
    r = ranges(sub)
    # given u < p_sector, u / p_sector is uniform on [0, 1) and independent of the selection
    new_r = 0.5 + (u[hit] * (1.0 / p_sector)) * xp.maximum(r - 0.5, xp.zeros_like(r))
    return _replaced(scan, hit, move_along_ray(sub, xp.ones(r.shape, dtype=xp.bool), new_r, xp.ones_like(r), r=r))


@perturbation("lidar_sun_glare", kind="lidar", apply=lidar_kernel(apply_sun_glare))
def sample_sun_glare(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> SunGlareParams:
    """Sun-glare noise toward a random sun azimuth (3D_Corruptions_AD shares)."""
    return SunGlareParams(
        sun_azimuth_deg=float(rng.uniform(-180.0, 180.0)),
        fraction=float(severity_value(sev.SUN_GLARE_FRACTION, severity, 0.0)),
        seed=draw_seed(rng),
    )

