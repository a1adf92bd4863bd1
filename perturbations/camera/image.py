"""Validation and value conversions shared by the camera kernels.

A camera input is an RGB ``uint8`` array of shape H x W x 3 with H, W >= 32, in
any Array-API module (NumPy, CuPy, ...). Kernels work in float32 on the 0..255
scale and quantise back by rounding (the published code truncates; rounding
removes its -0.5 DN bias).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from perturbations.xp import namespace

MIN_SIDE = 32


def check_shape(name: str, shape: tuple[int, ...]) -> tuple[int, int]:
    """(H, W) of an H x W x 3 image shape; anything else is a ``ValueError`` naming ``name``."""
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(
            f"perturbation {name!r}: expected an RGB image of shape (H, W, 3), got shape {tuple(shape)}; "
            "convert grey images with np.repeat(img[..., None], 3, axis=2)"
        )
    h, w = int(shape[0]), int(shape[1])
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ValueError(f"perturbation {name!r}: image must be at least {MIN_SIDE} x {MIN_SIDE} px, got {h} x {w}")
    return h, w


def check_image(name: str, x: Any) -> ModuleType:
    """The array module of ``x`` after checking it is a uint8 H x W x 3 image of at least 32 px."""
    xp = namespace(x)
    check_shape(name, tuple(x.shape))
    if x.dtype != xp.uint8:
        raise ValueError(
            f"perturbation {name!r}: expected dtype uint8 (0..255), got {x.dtype}; "
            "scale float images with (img * 255).round().astype(np.uint8)"
        )
    return xp


def as_float(x: Any) -> Any:
    """float32 copy of ``x`` on the 0..255 scale."""
    xp = namespace(x)
    return xp.astype(x, xp.float32)


def to_uint8(y: Any) -> Any:
    """Round and clip a float 0..255 image to uint8; ``y`` is a temporary and may be overwritten."""
    xp = namespace(y)
    if xp is np:  # in place: two fewer image-sized allocations
        np.clip(y, 0.0, 255.0, out=y)
        return np.rint(y, out=y).astype(np.uint8)
    return xp.astype(xp.round(xp.clip(y, 0.0, 255.0)), xp.uint8)


def channel_max(f: Any) -> Any:
    """max(r, g, b) per pixel, H x W x 1 (elementwise: reductions over a length-3 axis are slow in NumPy)."""
    xp = namespace(f)
    return xp.maximum(xp.maximum(f[:, :, 0:1], f[:, :, 1:2]), f[:, :, 2:3])


def channel_min(f: Any) -> Any:
    """min(r, g, b) per pixel, H x W x 1."""
    xp = namespace(f)
    return xp.minimum(xp.minimum(f[:, :, 0:1], f[:, :, 1:2]), f[:, :, 2:3])


def channel_mean(f: Any) -> Any:
    """Mean of each channel, shape 1 x 1 x 3 (per-channel reductions, fast on every backend)."""
    xp = namespace(f)
    return xp.reshape(xp.stack([xp.mean(f[:, :, c]) for c in range(f.shape[2])]), (1, 1, f.shape[2]))


def grey(f: Any) -> Any:
    """Luma (ITU-R BT.601 weights, as OpenCV's RGB2GRAY), H x W x 1."""
    return 0.299 * f[:, :, 0:1] + 0.587 * f[:, :, 1:2] + 0.114 * f[:, :, 2:3]


def identity(x: Any) -> Any:
    """A copy of ``x`` (severity 0: output equals input but does not alias it)."""
    xp = namespace(x)
    return xp.asarray(x, copy=True)


def srgb_to_linear(y: Any) -> Any:
    """Linear radiance in [0, 1] from sRGB-encoded float values on the 0..255 scale (IEC 61966-2-1)."""
    xp = namespace(y)
    v = y / 255.0
    return xp.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin: Any) -> Any:
    """sRGB-encoded float values on the 0..255 scale from linear radiance (clipped to [0, 1])."""
    xp = namespace(lin)
    v = xp.clip(lin, 0.0, 1.0)
    return 255.0 * xp.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def grid(xp: ModuleType, h: int, w: int) -> tuple[Any, Any]:
    """Pixel row and column coordinates (float32, each H x W) in the array module ``xp``."""
    rows = xp.astype(xp.arange(h), xp.float32)
    cols = xp.astype(xp.arange(w), xp.float32)
    return xp.broadcast_to(rows[:, None], (h, w)), xp.broadcast_to(cols[None, :], (h, w))
