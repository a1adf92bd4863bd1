"""Digital corruptions (ImageNet-C): brightness, contrast, saturate, pixelate, JPEG, elastic transform.

Brightness and saturate are the published HSV edits written in closed form on RGB
(no HSV round trip): with V = max(r, g, b), m = min(r, g, b) and H, S fixed,

* raising V to V' scales every channel by V'/V (black, S = 0, becomes grey V');
* changing S to S' moves each channel to V - (V - c) S'/S; a grey pixel (S = 0,
  hue 0 by convention) becomes (V, V(1 - S'), V(1 - S')), as the HSV code does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from perturbations.camera import filters
from perturbations.camera import severities as sev
from perturbations.camera.fields import host_uniform16
from perturbations.camera.image import (
    as_float, channel_lut, channel_max, channel_mean, channel_min, check_image, check_shape, grid, identity, lookup,
    to_uint8,
)
from perturbations.registry import perturbation, severity_value
from perturbations.xp import draw_seed, from_host, to_host


# --- brightness ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BrightnessParams:
    shift: float  # added to the HSV value, [0, 1] scale


def apply_brightness(x: Any, params: BrightnessParams) -> Any:
    """HSV value + shift (clipped at 1), hue and saturation kept: c * V' / V, tabulated over (c, V)."""
    xp = check_image("brightness", x)
    if params.shift == 0.0:
        return identity(x)
    v = channel_max(x)  # uint8
    return lookup(_brightness_table(params.shift), xp.astype(x, xp.int32) * 256 + xp.astype(v, xp.int32))


@lru_cache(maxsize=8)
def _brightness_table(shift: float) -> np.ndarray:
    """uint8 output for (channel value c, pixel value V) flattened as c * 256 + V: c * V' / V."""
    c, v = np.meshgrid(np.arange(256.0), np.arange(256.0), indexing="ij")
    v_new = np.minimum(v + 255.0 * shift, 255.0)
    out = np.where(v > 0, c * v_new / np.maximum(v, 1.0), v_new)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).ravel()


@perturbation("brightness", kind="camera", apply=apply_brightness)
def sample_brightness(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> BrightnessParams:
    """Brighter image, HSV value shift from ``BRIGHTNESS_SHIFT``; deterministic."""
    check_shape("brightness", shape)
    return BrightnessParams(shift=float(severity_value(sev.BRIGHTNESS_SHIFT, severity, 0.0)))


# --- contrast -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ContrastParams:
    factor: float  # 1 keeps the image


def apply_contrast(x: Any, params: ContrastParams) -> Any:
    """(x - channel mean) * factor + channel mean, as a per-channel look-up table."""
    xp = check_image("contrast", x)
    if params.factor == 1.0:
        return identity(x)
    mean = to_host(channel_mean(xp.astype(x, xp.float32))).reshape(3, 1).astype(np.float64)
    tables = (np.arange(256.0)[None, :] - mean) * params.factor + mean  # a per-channel affine map of 256 codes
    return channel_lut(x, np.clip(np.rint(tables), 0, 255).astype(np.uint8))


@perturbation("contrast", kind="camera", apply=apply_contrast)
def sample_contrast(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> ContrastParams:
    """Lower contrast, factor from ``CONTRAST_FACTOR``; deterministic."""
    check_shape("contrast", shape)
    return ContrastParams(factor=float(severity_value(sev.CONTRAST_FACTOR, severity, 1.0)))


# --- saturate -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SaturateParams:
    gain: float
    offset: float  # HSV saturation S' = clip(S * gain + offset, 0, 1)


def apply_saturate(x: Any, params: SaturateParams) -> Any:
    """HSV saturation scaled and offset, hue and value kept (closed form, see module doc)."""
    xp = check_image("saturate", x)
    if params.gain == 1.0 and params.offset == 0.0:
        return identity(x)
    f = as_float(x)
    v = channel_max(f)
    spread = v - channel_min(f)
    s = spread / xp.where(v > 0, v, 1.0)
    s_new = xp.clip(s * params.gain + params.offset, 0.0, 1.0)
    coloured = v - (v - f) * (s_new * v / xp.where(spread > 0, spread, 1.0))
    grey_weights = xp.asarray([0.0, 1.0, 1.0], dtype=xp.float32)  # hue 0: red stays at V
    grey = v - v * s_new * grey_weights
    return to_uint8(xp.where(spread > 0, coloured, grey))


@perturbation("saturate", kind="camera", apply=apply_saturate)
def sample_saturate(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> SaturateParams:
    """Saturation change, (gain, offset) from ``SATURATE`` (levels 1-2 desaturate, 3-5 oversaturate)."""
    check_shape("saturate", shape)
    gain, offset = severity_value(sev.SATURATE, severity, (1.0, 0.0))
    return SaturateParams(gain=float(gain), offset=float(offset))


# --- pixelate -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PixelateParams:
    scale: float  # 1 keeps the image


def apply_pixelate(x: Any, params: PixelateParams) -> Any:
    """Box-filter down to ``scale`` of the size, nearest-neighbour back up (OpenCV; host on GPU)."""
    check_image("pixelate", x)
    if params.scale >= 1.0:
        return identity(x)
    img = to_host(x)
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, int(w * params.scale)), max(1, int(h * params.scale))),
                       interpolation=cv2.INTER_AREA)
    return from_host(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST_EXACT), x)


@perturbation("pixelate", kind="camera", apply=apply_pixelate, host_fallback=True)
def sample_pixelate(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> PixelateParams:
    """Pixelation, down-scale factor from ``PIXELATE_SCALE``; deterministic."""
    check_shape("pixelate", shape)
    return PixelateParams(scale=float(severity_value(sev.PIXELATE_SCALE, severity, 1.0)))


# --- JPEG ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class JpegParams:
    quality: int  # 1..100; 101 means no compression (severity 0)


NO_COMPRESSION = 101


def apply_jpeg_compression(x: Any, params: JpegParams) -> Any:
    """Encode and decode as baseline JPEG (4:2:0, libjpeg quality scale) with OpenCV; host on GPU."""
    check_image("jpeg_compression", x)
    if params.quality >= NO_COMPRESSION:
        return identity(x)
    bgr = cv2.cvtColor(to_host(x), cv2.COLOR_RGB2BGR)  # OpenCV encodes BGR; the YCbCr weights need the order
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(params.quality)])
    if not ok:
        raise ValueError(f"jpeg_compression: OpenCV could not encode a {bgr.shape} image")
    return from_host(cv2.imdecode(buf, cv2.IMREAD_COLOR_RGB), x)


@perturbation("jpeg_compression", kind="camera", apply=apply_jpeg_compression, host_fallback=True)
def sample_jpeg_compression(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> JpegParams:
    """JPEG artefacts, quality from ``JPEG_QUALITY`` (between 0 and 1 from 100 down); deterministic."""
    check_shape("jpeg_compression", shape)
    if severity == 0:
        return JpegParams(quality=NO_COMPRESSION)
    return JpegParams(quality=int(round(severity_value(sev.JPEG_QUALITY, severity, 100.0))))


# --- elastic transform ----------------------------------------------------------------------
@dataclass(frozen=True)
class ElasticParams:
    alpha: float  # gain on the smoothed displacement field
    seed: int


def displacement_fields(h: int, w: int, params: ElasticParams) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx) in px, float32 H x W: uniform noise in +-0.005 H, Gaussian-smoothed (sigma 0.01 H, 0.01 W,
    cut at 3 sigma, reflected edges), times alpha. Drawn on the host from the seed."""
    limit = sev.ELASTIC_MAX_SHIFT_PER_PX * h
    raw = host_uniform16(params.seed, (2, h, w)).astype(np.float32) * np.float32(2 * limit / 65536) - np.float32(limit)
    sy, sx = sev.ELASTIC_SIGMA_PER_PX * h, sev.ELASTIC_SIGMA_PER_PX * w
    fields = [filters.gaussian(raw[i], sy, sx, truncate=sev.ELASTIC_TRUNCATE, border="reflect") for i in range(2)]
    return fields[0] * np.float32(params.alpha), fields[1] * np.float32(params.alpha)


def apply_elastic_transform(x: Any, params: ElasticParams) -> Any:
    """Resample the image along a smooth random displacement field (bilinear, reflected edges)."""
    xp = check_image("elastic_transform", x)
    if params.alpha == 0.0:
        return identity(x)
    h, w = x.shape[0], x.shape[1]
    dy, dx = displacement_fields(h, w, params)
    rows, cols = grid(xp, h, w)
    return filters.remap(x, rows + from_host(dy, x), cols + from_host(dx, x), border="reflect")


@perturbation("elastic_transform", kind="camera", apply=apply_elastic_transform)
def sample_elastic_transform(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> ElasticParams:
    """Elastic warping, gain from ``ELASTIC_ALPHA``."""
    check_shape("elastic_transform", shape)
    return ElasticParams(alpha=float(severity_value(sev.ELASTIC_ALPHA, severity, 0.0)), seed=draw_seed(rng))
