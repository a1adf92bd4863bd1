"""Automatic exposure, tone mapping and 8-bit encoding.

The meter takes the log-average luminance (the "key") of the frame and maps it
to middle grey (0.18), as camera auto-exposure does; the gain is limited so
that scenes darker than ``MIN_METERED`` cd/m^2 stay dark (a real camera runs
out of exposure time and ISO). Highlights roll off with an extended Reinhard
curve, then the sRGB transfer function encodes 8 bits.
"""

from __future__ import annotations

import math

import numpy as np

from simtest.sim.embedded import kernels
from simtest.sim.embedded.lighting import LUMA

MIDDLE_GREY = 0.18
MIN_METERED = 1.5  # cd/m^2: below this key the image is under-exposed (night)
MAX_METERED = 1e5
WHITE = 4.0  # tone-mapped input that maps to full white
_LUT_SIZE = 4096


def _srgb_lut() -> np.ndarray:
    x = np.linspace(0.0, 1.0, _LUT_SIZE)
    y = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)


SRGB_LUT = _srgb_lut()


def metered_key(radiance: np.ndarray, stride: int = 4) -> float:
    """Log-average luminance (cd/m^2) over a subsampled grid of the (H, W, 3) float32 image."""
    return math.exp(kernels.mean_log_luminance(radiance, stride, LUMA, np.float32(1e-4)))


def exposure_gain(key: float) -> float:
    """Gain that maps the key to middle grey, limited to the camera's range."""
    return MIDDLE_GREY / min(max(float(key), MIN_METERED), MAX_METERED)


def encode(radiance: np.ndarray, gain: float) -> np.ndarray:
    """uint8 sRGB image of ``radiance`` (H, W, 3) scaled by ``gain``."""
    flat = np.ascontiguousarray(radiance, np.float32).reshape(-1, 3)
    out = np.empty(flat.shape, np.uint8)
    kernels.encode_pixels(flat, np.float32(gain), np.float32(1.0 / WHITE**2), SRGB_LUT, out)
    return out.reshape(radiance.shape)
