"""Weather on the image (ImageNet-C): snow, frost, fog, spatter.

Each draws a layer from the seed in its Params (snowflakes, frost texture, fog
fractal, liquid splashes) on the host — the layer depends on the seed and the
image size only — and combines it with the image in the image's array module.
Between severity 0 and 1, snow and spatter keep their level-1 layer and fade it
in (``opacity``), since their published parameters have no "none" value.

Frost is procedural (no photographs are shipped): a fractal haze plus needle
crystals growing from random nuclei, tinted blue-white, with the published
(image weight, frost weight) blend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from perturbations.camera import severities as sev
from perturbations.camera.blur import motion_kernel
from perturbations.camera.fields import host_normal
from perturbations.camera.image import as_float, blend, check_image, check_shape, grey, identity, to_uint8
from perturbations.registry import perturbation, severity_value
from perturbations.xp import draw_seed, from_host


def _fade(x: Any, out: Any, opacity: float) -> Any:
    """``out`` faded in over ``x`` (uint8) by ``opacity`` in [0, 1]."""
    if opacity >= 1.0:
        return out
    f = as_float(x)
    return to_uint8(f + (as_float(out) - f) * opacity)


# --- fog ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FogParams:
    strength: float  # fog added at the brightest, [0, 1] scale
    decay: float  # roughness of the fractal: amplitude falls by decay**2 per octave
    seed: int


def plasma_fractal(size: int, decay: float, seed: int) -> np.ndarray:
    """Diamond-square fractal on a periodic size x size grid (size a power of two), float32 in [0, 1].

    As published: every new point is the mean of its 4 neighbours plus
    ``wibble * U(-wibble, wibble)``, wibble starting at 100 and divided by ``decay``
    per octave.
    """
    g = np.random.default_rng(seed)
    m = np.zeros((size, size), np.float32)
    step, wibble = size, 100.0

    def jitter(shape: tuple[int, ...]) -> np.ndarray:
        return (g.random(shape, dtype=np.float32) * 2 - 1) * np.float32(wibble * wibble)

    while step >= 2:
        half = step // 2
        corners = m[0::step, 0::step]
        square = corners + np.roll(corners, -1, axis=0)
        square = square + np.roll(square, -1, axis=1)
        m[half::step, half::step] = square / 4 + jitter(square.shape)
        centres, corners = m[half::step, half::step], m[0::step, 0::step]
        vertical = centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1)
        m[0::step, half::step] = vertical / 4 + jitter(vertical.shape)
        horizontal = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0)
        m[half::step, 0::step] = horizontal / 4 + jitter(horizontal.shape)
        step //= 2
        wibble /= decay
    m -= m.min()
    return m / m.max()


COARSE = 4  # the fractal is built at 1/COARSE resolution and upsampled bilinearly


def fractal_field(h: int, w: int, decay: float, seed: int) -> np.ndarray:
    """The published fog fractal for an H x W image (float32 in [0, 1]).

    The map side is the next power of two of the larger image side, as published,
    but the two finest octaves are replaced by bilinear upsampling of a map built
    at 1/4 resolution: their amplitude is at most decay**-16 (< 0.5 %) of the
    coarsest octave's, and skipping them makes the field ~10x cheaper.
    """
    size = 1 << (max(h, w) - 1).bit_length()
    coarse = max(2, size // COARSE)
    field = plasma_fractal(coarse, decay, seed)
    if coarse == size:
        return field[:h, :w]
    scale = size // coarse
    needed = field[: min(coarse, h // scale + 2), : min(coarse, w // scale + 2)]  # only what covers the image
    return cv2.resize(needed, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)[:h, :w]


def apply_fog(x: Any, params: FogParams) -> Any:
    """x + strength * fractal, rescaled by max / (max + strength) so the brightest pixel keeps its value."""
    xp = check_image("fog", x)
    if params.strength == 0.0:
        return identity(x)
    fractal = fractal_field(x.shape[0], x.shape[1], params.decay, params.seed)[:, :, None]
    peak = float(xp.max(x)) / 255.0
    k = peak / (peak + params.strength)
    return to_uint8(as_float(x) * k + from_host(fractal * np.float32(255.0 * params.strength * k), x))


@perturbation("fog", kind="camera", apply=apply_fog)
def sample_fog(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> FogParams:
    """Fog, (strength, fractal decay) from ``FOG``."""
    check_shape("fog", shape)
    strength, decay = severity_value(sev.FOG, severity, (0.0, 2.0))
    return FogParams(strength=float(strength), decay=float(decay), seed=draw_seed(rng))


# --- snow ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SnowParams:
    mean: float  # of the flake noise
    std: float
    zoom: float  # flake size: the noise is magnified this much
    threshold: float  # noise below this is no flake
    blur_radius: int  # px, motion smear of the flakes
    blur_sigma: float
    image_weight: float  # of the image against its whitened copy
    angle_deg: float  # fall direction
    opacity: float  # 1 from severity 1 on
    seed: int


def snow_layer(h: int, w: int, p: SnowParams) -> np.ndarray:
    """Flakes in [0, 1] (float32 H x W, quantised to 1/255 as published): thresholded magnified noise, smeared."""
    ch, cw = math.ceil(h / p.zoom), math.ceil(w / p.zoom)  # the central crop that the published zoom keeps
    noise = host_normal(p.seed, (ch, cw)) * np.float32(p.std) + np.float32(p.mean)
    layer = cv2.resize(noise, (w, h), interpolation=cv2.INTER_LINEAR)
    layer[layer < p.threshold] = 0
    np.clip(layer, 0, 1, out=layer)
    layer = cv2.filter2D(layer, -1, motion_kernel(p.blur_radius, p.blur_sigma, p.angle_deg),
                         borderType=cv2.BORDER_REPLICATE)
    return np.rint(np.clip(layer, 0, 1) * 255).astype(np.float32) / 255


def apply_snow(x: Any, params: SnowParams) -> Any:
    """Falling flakes (and their point reflection) over an image whitened towards 1.5 grey + 0.5."""
    xp = check_image("snow", x)
    if params.opacity == 0.0:
        return identity(x)
    h, w = x.shape[0], x.shape[1]
    layer = snow_layer(h, w, params)
    flakes = from_host((layer + layer[::-1, ::-1])[:, :, None] * np.float32(255.0), x)
    f = as_float(x)
    whitened = xp.maximum(f, grey(f) * 1.5 + 127.5)
    out = to_uint8(params.image_weight * f + (1 - params.image_weight) * whitened + flakes)
    return _fade(x, out, params.opacity)


@perturbation("snow", kind="camera", apply=apply_snow)
def sample_snow(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> SnowParams:
    """Snow, flake parameters from ``SNOW``, fall direction uniform in -135..-45 deg."""
    check_shape("snow", shape)
    c = severity_value(sev.SNOW, max(severity, 1.0), sev.SNOW[0])
    angle = float(rng.uniform(*sev.SNOW_ANGLE_DEG))
    return SnowParams(mean=c[0], std=c[1], zoom=c[2], threshold=c[3], blur_radius=int(round(c[4])), blur_sigma=c[5],
                      image_weight=c[6], angle_deg=angle, opacity=min(1.0, float(severity)), seed=draw_seed(rng))


# --- frost --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrostParams:
    image_weight: float
    frost_weight: float
    seed: int


FROST_TINT = np.array([0.82, 0.9, 1.0], np.float32)  # RGB, blue-white ice
FROST_TINT_LUTS = tuple(np.rint(np.arange(256) * t).astype(np.uint8) for t in FROST_TINT)  # 8-bit grey -> tinted channel


FROST_SCALE = 2  # the texture is drawn at 1/FROST_SCALE resolution and upsampled (soft 2 px needles)


def frost_texture(h: int, w: int, seed: int) -> np.ndarray:
    """Procedural frost brightness, float32 H x W on 0..255: fractal haze plus needle crystals.

    Crystals: nuclei at random points (one per ~900 px^2 of the image), each growing
    6-10 straight needles of 4-40 px in random directions with side branches at
    60 deg, drawn with random brightness at half resolution, then softened by a
    0.7 px blur and upsampled bilinearly.
    """
    g = np.random.default_rng(seed)
    hs, ws = -(-h // FROST_SCALE), -(-w // FROST_SCALE)
    haze = fractal_field(hs, ws, 1.6, int(g.integers(2**62)))
    canvas = np.zeros((hs, ws), np.uint8)
    nuclei = max(4, h * w // 900)
    centres = g.random((nuclei, 2)) * (ws, hs)
    needles = g.integers(6, 11, nuclei)
    starts = np.repeat(centres, needles, axis=0)
    angles = g.random(len(starts)) * 2 * np.pi
    lengths = (4 + 36 * g.random(len(starts)) ** 2) / FROST_SCALE
    ends = starts + lengths[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1)
    mid = starts + 0.5 * (ends - starts)
    side = np.where(g.random(len(starts)) < 0.5, 1.0, -1.0) * np.pi / 3
    branch_ends = mid + 0.4 * lengths[:, None] * np.stack([np.cos(angles + side), np.sin(angles + side)], 1)
    segments = np.concatenate([np.stack([starts, ends], 1), np.stack([mid, branch_ends], 1)])
    brightness = (120 + 135 * g.random(len(segments))).astype(int)
    for level in np.unique(brightness // 16):  # one polylines call per brightness band
        band = np.rint(segments[brightness // 16 == level] * 16).astype(np.int32)
        cv2.polylines(canvas, band, False, int(min(255, level * 16 + 8)), thickness=1, lineType=cv2.LINE_8, shift=4)
    crystals = cv2.GaussianBlur(canvas, (3, 3), 0.7).astype(np.float32)
    ice = haze * np.float32(0.4 * 255) + crystals * np.float32(0.9) + np.float32(35)
    np.minimum(ice, np.float32(255), out=ice)
    return cv2.resize(ice, (ws * FROST_SCALE, hs * FROST_SCALE), interpolation=cv2.INTER_LINEAR)[:h, :w]


def apply_frost(x: Any, params: FrostParams) -> Any:
    """image_weight * x + frost_weight * frost texture (blue-white tint, clipped)."""
    xp = check_image("frost", x)
    if params.frost_weight == 0.0:
        return identity(x)
    grey8 = np.rint(frost_texture(x.shape[0], x.shape[1], params.seed)).astype(np.uint8)
    ice = from_host(cv2.merge([cv2.LUT(grey8, lut) for lut in FROST_TINT_LUTS]), x)  # 8-bit, like the photographs
    return blend(x, params.image_weight, ice, params.frost_weight)


@perturbation("frost", kind="camera", apply=apply_frost)
def sample_frost(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> FrostParams:
    """Frost on the lens, (image weight, frost weight) from ``FROST``."""
    check_shape("frost", shape)
    image_weight, frost_weight = severity_value(sev.FROST, severity, (1.0, 0.0))
    return FrostParams(image_weight=float(image_weight), frost_weight=float(frost_weight), seed=draw_seed(rng))


# --- spatter ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpatterParams:
    mean: float
    std: float
    sigma: float  # px, smoothing of the liquid noise
    threshold: float
    gain: float  # water: colour gain; mud: blur sigma of the mud mask
    mud: bool
    opacity: float  # 1 from severity 1 on
    seed: int


_EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32)


def spatter_layer(h: int, w: int, p: SpatterParams) -> np.ndarray:
    """Coverage in [0, 1], float32 H x W: water droplets (edge-shaded, as published) or mud blotches."""
    liquid = host_normal(p.seed, (h, w)) * np.float32(p.std) + np.float32(p.mean)
    liquid = cv2.GaussianBlur(liquid, (0, 0), p.sigma, borderType=cv2.BORDER_REPLICATE)
    liquid[liquid < p.threshold] = 0
    if p.mud:
        m = cv2.GaussianBlur((liquid > p.threshold).astype(np.float32), (0, 0), p.gain, borderType=cv2.BORDER_REPLICATE)
        m[m < 0.8] = 0
        return m
    lu8 = (liquid * 255).astype(np.uint8)
    dist = cv2.distanceTransform(255 - cv2.Canny(lu8, 50, 150), cv2.DIST_L2, 5)
    _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
    dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
    dist = cv2.blur(cv2.filter2D(dist, cv2.CV_8U, _EMBOSS), (3, 3)).astype(np.float32)
    m = lu8 * dist
    peak = float(m.max())
    return m * np.float32(p.gain / peak) if peak > 0 else m


def apply_spatter(x: Any, params: SpatterParams) -> Any:
    """Water splashes (pale turquoise, added) or mud (brown, covering) on the lens."""
    xp = check_image("spatter", x)
    if params.opacity == 0.0:
        return identity(x)
    m = from_host(spatter_layer(x.shape[0], x.shape[1], params)[:, :, None], x)
    f = as_float(x)
    if params.mud:
        colour = xp.asarray([255 * c for c in sev.SPATTER_MUD_RGB], dtype=xp.float32)
        out = to_uint8(f * (1 - m) + colour * m)
    else:
        colour = xp.asarray([255 * c for c in sev.SPATTER_WATER_RGB], dtype=xp.float32)
        out = to_uint8(f + m * colour)
    return _fade(x, out, params.opacity)


@perturbation("spatter", kind="camera", apply=apply_spatter)
def sample_spatter(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> SpatterParams:
    """Spatter, parameters from ``SPATTER`` (water at levels 1-3, mud at 4-5)."""
    check_shape("spatter", shape)
    c = severity_value(sev.SPATTER, max(severity, 1.0), sev.SPATTER[0])
    return SpatterParams(mean=c[0], std=c[1], sigma=c[2], threshold=c[3], gain=c[4], mud=bool(c[5] >= 0.5),
                         opacity=min(1.0, float(severity)), seed=draw_seed(rng))
