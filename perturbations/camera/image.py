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

from perturbations.xp import from_host, namespace

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


def lookup(table: np.ndarray, index: Any) -> Any:
    """``table[index]`` for an integer index array of any shape (a gather; tables are small host arrays)."""
    xp = namespace(index)
    flat = xp.reshape(xp.astype(index, xp.int32), (-1,))
    return xp.reshape(xp.take(from_host(table, index), flat, axis=0), index.shape)


def channel_lut(x: Any, tables: np.ndarray) -> Any:
    """Per-channel look-up on a uint8 image: ``out[..., c] = tables[c, x[..., c]]`` (tables uint8, 3 x 256)."""
    xp = namespace(x)
    if xp is np:
        import cv2

        return cv2.LUT(x, np.ascontiguousarray(tables.T).reshape(256, 1, 3))
    offsets = xp.asarray([0, 256, 512], dtype=xp.int32)
    return lookup(tables.reshape(-1), xp.astype(x, xp.int32) + offsets)


def blend(x: Any, a: float, y: Any, b: Any) -> Any:
    """round(clip(a * x + b * y)) for uint8 images ``x`` and ``y``; ``b`` a number or a per-channel triple."""
    xp = namespace(x)
    weights = (float(b),) * 3 if np.isscalar(b) else tuple(float(v) for v in b)
    if xp is np and len(set(weights)) == 1:
        import cv2

        return cv2.addWeighted(x, float(a), y, weights[0], 0.0)  # saturating, SIMD
    return to_uint8(as_float(x) * float(a) + as_float(y) * xp.asarray(weights, dtype=xp.float32))


def grey(f: Any) -> Any:
    """Luma (ITU-R BT.601 weights, as OpenCV's RGB2GRAY), H x W x 1."""
    return 0.299 * f[:, :, 0:1] + 0.587 * f[:, :, 1:2] + 0.114 * f[:, :, 2:3]


def identity(x: Any) -> Any:
    """A copy of ``x`` (severity 0: output equals input but does not alias it)."""
    xp = namespace(x)
    return xp.asarray(x, copy=True)


# sRGB transfer (IEC 61966-2-1) through tables: the input has 256 codes, and the output is
# quantised to 8 bits, so a 2**16-entry table on linear values is exact to 0.05 DN.
_LINEAR_STEPS = 65535


def _srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _srgb_encode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


_DECODE = _srgb_decode(np.arange(256) / 255.0).astype(np.float32)
_ENCODE = np.rint(255.0 * _srgb_encode(np.arange(_LINEAR_STEPS + 1) / _LINEAR_STEPS)).astype(np.uint8)


def srgb_to_linear(x: Any) -> Any:
    """Linear radiance in [0, 1] (float32) of a uint8 sRGB image."""
    xp = namespace(x)
    table = from_host(_DECODE, x)
    return xp.reshape(xp.take(table, xp.reshape(xp.astype(x, xp.int32), (-1,)), axis=0), x.shape)


def linear_to_srgb8(lin: Any) -> Any:
    """uint8 sRGB image of linear radiance (clipped to [0, 1])."""
    xp = namespace(lin)
    idx = xp.astype(xp.clip(lin, 0.0, 1.0) * _LINEAR_STEPS + 0.5, xp.int32)
    return xp.reshape(xp.take(from_host(_ENCODE, lin), xp.reshape(idx, (-1,)), axis=0), lin.shape)


def grid(xp: ModuleType, h: int, w: int) -> tuple[Any, Any]:
    """Pixel row and column coordinates (float32, each H x W) in the array module ``xp``."""
    rows = xp.astype(xp.arange(h), xp.float32)
    cols = xp.astype(xp.arange(w), xp.float32)
    return xp.broadcast_to(rows[:, None], (h, w)), xp.broadcast_to(cols[None, :], (h, w))
