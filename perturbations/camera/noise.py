"""Sensor noise (ImageNet-C): Gaussian, shot (Poisson), impulse (salt and pepper), speckle.

All four are backend-generic (Array-API calls only). Noise fields are regenerated
from an integer seed carried in the Params (``perturbations.camera.fields``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import special

from perturbations.camera import severities as sev
from perturbations.camera.image import as_float, check_image, check_shape, identity, to_uint8
from perturbations.registry import perturbation, severity_value
from perturbations.camera.fields import LEVELS, normal, uniform16
from perturbations.xp import draw_seed, from_host


@dataclass(frozen=True)
class NoiseParams:
    """Strength of the noise (its meaning per corruption: std, share, ...) and the seed of its field."""

    strength: float
    seed: int


def _sample(
    name: str, table: tuple[float, ...], severity: float, shape: tuple[int, ...], rng: np.random.Generator
) -> NoiseParams:
    check_shape(name, shape)
    return NoiseParams(strength=float(severity_value(table, severity, 0.0)), seed=draw_seed(rng))


def apply_gaussian_noise(x: Any, params: NoiseParams) -> Any:
    """x + N(0, std) on the [0, 1] scale."""
    check_image("gaussian_noise", x)
    if params.strength == 0.0:
        return identity(x)
    n = normal(x, params.seed, tuple(x.shape))
    return to_uint8(as_float(x) + n * (255.0 * params.strength))


@perturbation("gaussian_noise", kind="camera", apply=apply_gaussian_noise)
def sample_gaussian_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> NoiseParams:
    """Additive white Gaussian noise, std from ``GAUSSIAN_NOISE_STD``."""
    return _sample("gaussian_noise", sev.GAUSSIAN_NOISE_STD, severity, shape, rng)


def apply_speckle_noise(x: Any, params: NoiseParams) -> Any:
    """x + x * N(0, std): noise proportional to the signal."""
    check_image("speckle_noise", x)
    if params.strength == 0.0:
        return identity(x)
    f = as_float(x)
    n = normal(x, params.seed, tuple(x.shape))
    return to_uint8(f + f * n * params.strength)


@perturbation("speckle_noise", kind="camera", apply=apply_speckle_noise)
def sample_speckle_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> NoiseParams:
    """Multiplicative Gaussian noise, std from ``SPECKLE_NOISE_STD``."""
    return _sample("speckle_noise", sev.SPECKLE_NOISE_STD, severity, shape, rng)


def apply_impulse_noise(x: Any, params: NoiseParams) -> Any:
    """Each value independently set to 0 (probability amount/2) or 255 (amount/2), per channel."""
    xp = check_image("impulse_noise", x)
    if params.strength == 0.0:
        return identity(x)
    u = uniform16(x, params.seed, tuple(x.shape))  # value k stands for (k + 0.5) / LEVELS
    half = int(round(params.strength / 2.0 * LEVELS))
    full = int(round(params.strength * LEVELS))
    out = xp.where(u < half, xp.asarray(0, dtype=xp.uint8), x)
    return xp.where((u >= half) & (u < full), xp.asarray(255, dtype=xp.uint8), out)


@perturbation("impulse_noise", kind="camera", apply=apply_impulse_noise)
def sample_impulse_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> NoiseParams:
    """Salt-and-pepper noise, share of values hit from ``IMPULSE_NOISE_AMOUNT``."""
    return _sample("impulse_noise", sev.IMPULSE_NOISE_AMOUNT, severity, shape, rng)


# Shot noise: out = Poisson(photons * x) / photons. Because x is uint8 there are only 256
# distinct means, so the Poisson inverse CDF is tabulated per value at QUANTILES equally
# spaced probabilities (resolution 2**-14) and sampling is one gather per pixel.
QUANTILES = 2**14
MAX_PHOTONS = 1e5  # beyond this the noise is below one 8-bit step at every level


@lru_cache(maxsize=8)
def _shot_noise_table(photons: float) -> np.ndarray:
    """uint8 output value for (input value v, quantile index q), flattened as v * QUANTILES + q."""
    lam = np.arange(256, dtype=np.float64) * (photons / 255.0)
    spread = np.sqrt(lam)
    k0 = np.maximum(0, np.floor(lam - 8 * spread - 8)).astype(np.int64)
    width = int(np.ceil(16 * spread.max() + 17))
    k = k0[:, None] + np.arange(width)[None, :]
    below = np.where(k0 > 0, special.pdtr(k0 - 1, lam), 0.0)  # P(X < k0)
    cdf = below[:, None] + np.cumsum(np.exp(k * np.log(np.maximum(lam, 1e-300))[:, None] - lam[:, None]
                                            - special.gammaln(k + 1.0)), axis=1)
    cdf[0] = 1.0  # lambda = 0: always 0 photons
    q = (np.arange(QUANTILES) + 0.5) / QUANTILES
    counts = np.stack([k0[v] + np.minimum(np.searchsorted(cdf[v], q, side="right"), width - 1) for v in range(256)])
    return np.clip(np.rint(counts * (255.0 / photons)), 0, 255).astype(np.uint8).ravel()


def apply_shot_noise(x: Any, params: NoiseParams) -> Any:
    """Poisson photon noise with ``params.strength`` photons at white (strength 0: no noise)."""
    xp = check_image("shot_noise", x)
    if params.strength == 0.0:
        return identity(x)
    table = from_host(_shot_noise_table(min(params.strength, MAX_PHOTONS)), x)
    u = uniform16(x, params.seed, tuple(x.shape))
    idx = xp.astype(x, xp.int32) * QUANTILES + xp.astype(u // (LEVELS // QUANTILES), xp.int32)
    return xp.reshape(xp.take(table, xp.reshape(idx, (-1,)), axis=0), x.shape)


@perturbation("shot_noise", kind="camera", apply=apply_shot_noise)
def sample_shot_noise(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> NoiseParams:
    """Photon (Poisson) noise; ``SHOT_NOISE_PHOTONS`` interpolated on 1/photons (0 at severity 0)."""
    check_shape("shot_noise", shape)
    inverse = severity_value(tuple(1.0 / p for p in sev.SHOT_NOISE_PHOTONS), severity, 0.0)
    return NoiseParams(strength=0.0 if inverse == 0.0 else 1.0 / inverse, seed=draw_seed(rng))
