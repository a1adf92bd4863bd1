"""Camera faults seen on vehicles (no published benchmark; tables in ``severities.py``).

Photometric faults work in linear light (sRGB decoded, IEC 61966-2-1) because
that is where a sensor collects photons:

* ``low_light``: the scene is ``stops`` darker; the pixel collects
  ``FULL_WELL * 2**-stops`` electrons at white; photon (shot) noise with variance
  equal to the electron count plus Gaussian read noise (Gaussian approximation of
  Poisson + read noise); the ISP's digital gain recovers half the lost stops, noise
  included;
* ``over_exposure``: ``stops`` more light, clipped at the full well (blown highlights);
* ``sun_glare``: a sun in the upper part of the image with a Lorentzian halo,
  a uniform veil and three lens-flare ghosts mirrored through the image centre;
* ``vignetting``: the natural cos^4 fall-off, 1 / (1 + (r / f)^2)^2, with f set so
  the corners get ``corner_gain``.

Lens faults: ``lens_dirt`` (soft opaque blotches), ``lens_raindrops`` (drops on the
lens show an out-of-focus, inverted, minified view of their surroundings).
Sensor faults: ``dead_pixels`` (dead, hot and stuck pixels), ``dead_lines`` (whole
rows or columns dead or stuck), ``channel_failure`` (one colour channel loses gain).

``frozen_frame``: the camera stalls and delivers a stale frame. With the single
image API there is no history, so the stale frame is approximated from the current
one: while the vehicle drives forward the scene grows about the focus of expansion,
so k frames ago it looked smaller by the relative depth change ``depth_change``
(a minification about the image centre; the border that was outside the current
view is filled by replicating the edge). With a frame history, the fusion-level
``temporal_misalignment_camera`` delivers the real stale frame instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from perturbations.camera import filters
from perturbations.camera import severities as sev
from perturbations.camera.fields import LEVELS, host_normal, normal, uniform16
from perturbations.camera.image import (
    as_float, check_image, check_shape, grid, identity, linear_to_srgb8, srgb_to_linear, to_uint8,
)
from perturbations.registry import perturbation, severity_value
from perturbations.xp import draw_seed, from_host, namespace


# --- low light ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LowLightParams:
    stops: float  # light lost
    read_noise_e: float  # electrons rms
    seed: int


def apply_low_light(x: Any, params: LowLightParams) -> Any:
    """Darker, noisier image: photon and read noise at a lower exposure, half recovered by gain."""
    check_image("low_light", x)
    if params.stops == 0.0 and params.read_noise_e == 0.0:
        return identity(x)
    electrons = srgb_to_linear(x) * (sev.LOW_LIGHT_FULL_WELL_E * 2.0**-params.stops)
    xp = namespace(electrons)
    sigma = xp.sqrt(electrons + params.read_noise_e**2)
    noisy = electrons + sigma * normal(x, params.seed, tuple(x.shape))
    gain = 2.0 ** (params.stops * sev.LOW_LIGHT_GAIN_SHARE) / sev.LOW_LIGHT_FULL_WELL_E
    return linear_to_srgb8(noisy * gain)


@perturbation("low_light", kind="camera", apply=apply_low_light)
def sample_low_light(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> LowLightParams:
    """Low light, (stops lost, read noise) from ``LOW_LIGHT``."""
    check_shape("low_light", shape)
    stops, read = severity_value(sev.LOW_LIGHT, severity, (0.0, 0.0))
    return LowLightParams(stops=float(stops), read_noise_e=float(read), seed=draw_seed(rng))


# --- over-exposure ------------------------------------------------------------------------
@dataclass(frozen=True)
class OverExposureParams:
    stops: float


def apply_over_exposure(x: Any, params: OverExposureParams) -> Any:
    """2**stops more light in linear space, clipped at saturation."""
    check_image("over_exposure", x)
    if params.stops == 0.0:
        return identity(x)
    return linear_to_srgb8(srgb_to_linear(x) * 2.0**params.stops)


@perturbation("over_exposure", kind="camera", apply=apply_over_exposure)
def sample_over_exposure(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> OverExposureParams:
    """Over-exposure, stops from ``OVER_EXPOSURE_STOPS``; deterministic."""
    check_shape("over_exposure", shape)
    return OverExposureParams(stops=float(severity_value(sev.OVER_EXPOSURE_STOPS, severity, 0.0)))


# --- sun glare ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SunGlareParams:
    peak: float  # linear radiance added at the sun
    radius: float  # halo radius, share of the image diagonal
    veil: float  # uniform veiling glare, linear radiance
    sun_yx: tuple[float, float]  # sun position, share of height and width


GLARE_TINT = (1.0, 0.95, 0.82)  # RGB, warm sunlight
GHOSTS = ((-0.4, 0.5, 0.12), (-0.8, 0.8, 0.08), (-1.2, 0.3, 0.15))  # (position along sun->centre, size, strength)


def glare_layer(xp: Any, h: int, w: int, p: SunGlareParams) -> Any:
    """Added linear radiance, H x W x 1: halo + veil + flare ghosts (discs along the line through the centre)."""
    rows, cols = grid(xp, h, w)
    diag = math.hypot(h, w)
    sy, sx = p.sun_yx[0] * h, p.sun_yx[1] * w
    r0 = p.radius * diag
    layer = p.peak / (1.0 + ((rows - sy) ** 2 + (cols - sx) ** 2) / r0**2) + p.veil
    cy, cx = h / 2.0, w / 2.0
    for t, size, strength in GHOSTS:
        gy, gx = cy + t * (sy - cy), cx + t * (sx - cx)
        d = xp.sqrt((rows - gy) ** 2 + (cols - gx) ** 2) / (size * r0)
        layer = layer + (strength * p.peak) * xp.clip((1.0 - d) * 4.0, 0.0, 1.0)
    return layer[:, :, None]


def apply_sun_glare(x: Any, params: SunGlareParams) -> Any:
    """Sunlight scattered in the lens added in linear light (warm tint), clipped at saturation."""
    xp = check_image("sun_glare", x)
    if params.peak == 0.0 and params.veil == 0.0:
        return identity(x)
    layer = glare_layer(xp, x.shape[0], x.shape[1], params) * xp.asarray(GLARE_TINT, dtype=xp.float32)
    return linear_to_srgb8(srgb_to_linear(x) + layer)


@perturbation("sun_glare", kind="camera", apply=apply_sun_glare)
def sample_sun_glare(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> SunGlareParams:
    """Sun glare, (peak, halo radius, veil) from ``SUN_GLARE``; sun in the upper 45 % of the image."""
    check_shape("sun_glare", shape)
    peak, radius, veil = severity_value(sev.SUN_GLARE, severity, (0.0, sev.SUN_GLARE[0][1], 0.0))
    sun = (float(rng.uniform(0.05, 0.45)), float(rng.uniform(0.1, 0.9)))
    return SunGlareParams(peak=float(peak), radius=float(radius), veil=float(veil), sun_yx=sun)


# --- vignetting ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VignettingParams:
    corner_gain: float  # 1 = none


def apply_vignetting(x: Any, params: VignettingParams) -> Any:
    """Natural vignetting 1 / (1 + (r/f)^2)^2 in linear light, f giving ``corner_gain`` at the corners."""
    xp = check_image("vignetting", x)
    if params.corner_gain >= 1.0:
        return identity(x)
    h, w = x.shape[0], x.shape[1]
    rows, cols = grid(xp, h, w)
    r2 = ((rows - (h - 1) / 2.0) ** 2 + (cols - (w - 1) / 2.0) ** 2) / (((h - 1) / 2.0) ** 2 + ((w - 1) / 2.0) ** 2)
    rho2 = params.corner_gain**-0.5 - 1.0  # (r_corner / f)^2
    gain = 1.0 / (1.0 + rho2 * r2) ** 2
    return linear_to_srgb8(srgb_to_linear(x) * gain[:, :, None])


@perturbation("vignetting", kind="camera", apply=apply_vignetting)
def sample_vignetting(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> VignettingParams:
    """Vignetting, corner gain from ``VIGNETTING_CORNER_GAIN``; deterministic."""
    check_shape("vignetting", shape)
    return VignettingParams(corner_gain=float(severity_value(sev.VIGNETTING_CORNER_GAIN, severity, 1.0)))


# --- lens dirt ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LensDirtParams:
    cover: float  # share of the image under dirt
    seed: int


DIRT_RGB = (70.0, 58.0, 45.0)  # 0..255, dried mud
DIRT_CELL_PX = 24  # size of a dirt feature


def dirt_mask(h: int, w: int, p: LensDirtParams) -> np.ndarray:
    """Opacity in [0, LENS_DIRT_OPACITY], float32 H x W: smooth noise above its (1 - cover) quantile, soft edges."""
    small = host_normal(p.seed, (max(2, h // DIRT_CELL_PX + 2), max(2, w // DIRT_CELL_PX + 2)))
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    level = np.quantile(field[:: max(1, h // 64), :: max(1, w // 64)], 1.0 - p.cover)
    soft = 0.25 * float(field.std())
    return np.clip((field - level) / soft + 0.5, 0, 1).astype(np.float32) * np.float32(sev.LENS_DIRT_OPACITY)


def apply_lens_dirt(x: Any, params: LensDirtParams) -> Any:
    """Blotches of dirt on the lens: the image fades to the dirt colour under them."""
    xp = check_image("lens_dirt", x)
    if params.cover == 0.0:
        return identity(x)
    m = from_host(dirt_mask(x.shape[0], x.shape[1], params)[:, :, None], x)
    return to_uint8(as_float(x) * (1.0 - m) + m * xp.asarray(DIRT_RGB, dtype=xp.float32))


@perturbation("lens_dirt", kind="camera", apply=apply_lens_dirt)
def sample_lens_dirt(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> LensDirtParams:
    """Lens dirt, covered share from ``LENS_DIRT_COVER``."""
    check_shape("lens_dirt", shape)
    return LensDirtParams(cover=float(severity_value(sev.LENS_DIRT_COVER, severity, 0.0)), seed=draw_seed(rng))


# --- raindrops on the lens ------------------------------------------------------------------
@dataclass(frozen=True)
class RaindropParams:
    centres_yx: np.ndarray  # n x 2, share of height and width
    radii: np.ndarray  # n, share of the image height


DROP_BLUR_SIGMA_PX = 2.0  # the drops are out of focus
DROP_MINIFICATION = 2.5  # a drop shows an area this much wider than itself, inverted


def drop_maps(h: int, w: int, p: RaindropParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(map_y, map_x, alpha), float32 H x W: where each pixel samples from, and drop coverage."""
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    map_y, map_x, alpha = rows.copy(), cols.copy(), np.zeros((h, w), np.float32)
    for (fy, fx), fr in zip(np.asarray(p.centres_yx).reshape(-1, 2), np.asarray(p.radii).reshape(-1)):
        cy, cx, r = fy * h, fx * w, max(1.0, fr * h)
        y0, y1 = max(0, int(cy - r)), min(h, int(cy + r) + 2)
        x0, x1 = max(0, int(cx - r)), min(w, int(cx + r) + 2)
        if y0 >= y1 or x0 >= x1:
            continue
        dy, dx = rows[y0:y1, x0:x1] - cy, cols[y0:y1, x0:x1] - cx
        d = np.sqrt(dy**2 + dx**2) / r
        inside = d < 1.0
        k = DROP_MINIFICATION * (1.0 + d**2)  # stronger refraction towards the rim
        map_y[y0:y1, x0:x1] = np.where(inside, cy - dy * k, map_y[y0:y1, x0:x1])
        map_x[y0:y1, x0:x1] = np.where(inside, cx - dx * k, map_x[y0:y1, x0:x1])
        a = np.clip((1.0 - d) / 0.15, 0.0, 1.0)  # soft rim
        alpha[y0:y1, x0:x1] = np.maximum(alpha[y0:y1, x0:x1], a)
    return map_y, map_x, alpha


def apply_lens_raindrops(x: Any, params: RaindropParams) -> Any:
    """Raindrops on the lens: each shows a blurred, inverted, minified view of its surroundings."""
    check_image("lens_raindrops", x)
    if len(params.radii) == 0:
        return identity(x)
    h, w = x.shape[0], x.shape[1]
    map_y, map_x, alpha = drop_maps(h, w, params)
    blurred = filters.gaussian(x, DROP_BLUR_SIGMA_PX, DROP_BLUR_SIGMA_PX)
    seen = as_float(filters.remap(blurred, from_host(map_y, x), from_host(map_x, x), border="replicate"))
    a = from_host(alpha[:, :, None], x)
    return to_uint8(as_float(x) * (1.0 - a) + seen * (0.9 * a))  # drops pass ~90 % of the light


@perturbation("lens_raindrops", kind="camera", apply=apply_lens_raindrops)
def sample_lens_raindrops(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> RaindropParams:
    """Raindrops, count from ``LENS_RAINDROPS_COUNT``, radii uniform in ``LENS_RAINDROP_RADIUS_PER_PX``."""
    check_shape("lens_raindrops", shape)
    n = int(round(severity_value(sev.LENS_RAINDROPS_COUNT, severity, 0.0)))
    centres = rng.random((sev.LENS_RAINDROPS_COUNT[-1].__int__(), 2))[:n]  # same drops at every severity
    radii = rng.uniform(*sev.LENS_RAINDROP_RADIUS_PER_PX, int(sev.LENS_RAINDROPS_COUNT[-1]))[:n]
    return RaindropParams(centres_yx=centres, radii=radii)


# --- dead, hot and stuck pixels -------------------------------------------------------------
@dataclass(frozen=True)
class DeadPixelsParams:
    share: float  # of pixels defective
    seed: int


def apply_dead_pixels(x: Any, params: DeadPixelsParams) -> Any:
    """Defective pixels: half dead (0), a quarter hot (255), a quarter stuck at a random grey level."""
    xp = check_image("dead_pixels", x)
    if params.share == 0.0:
        return identity(x)
    u = uniform16(x, params.seed, (2, x.shape[0], x.shape[1]))
    defective = (u[0, ...] < int(round(params.share * LEVELS)))[:, :, None]
    kind = u[1, ...] % 4
    level = xp.where(kind < 2, 0, xp.where(kind == 2, 255, xp.astype(u[1, ...] // 256, xp.int32)))
    return xp.where(defective, xp.astype(level, xp.uint8)[:, :, None], x)


@perturbation("dead_pixels", kind="camera", apply=apply_dead_pixels)
def sample_dead_pixels(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> DeadPixelsParams:
    """Dead, hot and stuck pixels, share from ``DEAD_PIXELS_SHARE``."""
    check_shape("dead_pixels", shape)
    return DeadPixelsParams(share=float(severity_value(sev.DEAD_PIXELS_SHARE, severity, 0.0)), seed=draw_seed(rng))


# --- dead lines ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DeadLinesParams:
    rows: tuple[int, ...]  # image rows that are dead or stuck
    cols: tuple[int, ...]
    row_values: tuple[int, ...]  # 0 dead, 255 stuck high
    col_values: tuple[int, ...]


def apply_dead_lines(x: Any, params: DeadLinesParams) -> Any:
    """Whole rows and columns read out as 0 (dead) or 255 (stuck), as after a readout-line failure."""
    xp = check_image("dead_lines", x)
    if not params.rows and not params.cols:
        return identity(x)
    h, w = x.shape[0], x.shape[1]
    out = xp.asarray(x, copy=True)
    for r, v in zip(params.rows, params.row_values):
        if not 0 <= r < h:
            raise ValueError(f"dead_lines: row {r} outside an image of height {h}; replay records on same-size images")
        out[r, :, :] = v
    for c, v in zip(params.cols, params.col_values):
        if not 0 <= c < w:
            raise ValueError(f"dead_lines: column {c} outside an image of width {w}; replay on same-size images")
        out[:, c, :] = v
    return out


@perturbation("dead_lines", kind="camera", apply=apply_dead_lines)
def sample_dead_lines(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> DeadLinesParams:
    """Dead lines, count from ``DEAD_LINES_COUNT``; each a row or a column (even odds), dead or stuck."""
    h, w = check_shape("dead_lines", shape)
    most = int(sev.DEAD_LINES_COUNT[-1])
    n = int(round(severity_value(sev.DEAD_LINES_COUNT, severity, 0.0)))
    is_row = rng.random(most)[:n] < 0.5  # the same first lines at every severity
    value = np.where(rng.random(most)[:n] < 0.7, 0, 255)
    row_order, col_order = rng.permutation(h), rng.permutation(w)  # distinct lines
    n_rows = int(is_row.sum())
    return DeadLinesParams(rows=tuple(int(r) for r in row_order[:n_rows]),
                           cols=tuple(int(c) for c in col_order[: n - n_rows]),
                           row_values=tuple(int(v) for v in value[is_row]),
                           col_values=tuple(int(v) for v in value[~is_row]))


# --- colour-channel failure ---------------------------------------------------------------
@dataclass(frozen=True)
class ChannelFailureParams:
    channel: int  # 0 red, 1 green, 2 blue
    loss: float  # share of the channel's signal lost (1 = channel dead)


def apply_channel_failure(x: Any, params: ChannelFailureParams) -> Any:
    """One colour channel scaled by (1 - loss), e.g. a failed colour-filter readout or white-balance fault."""
    xp = check_image("channel_failure", x)
    if params.loss == 0.0:
        return identity(x)
    gain = [1.0, 1.0, 1.0]
    gain[params.channel] = 1.0 - params.loss
    return to_uint8(as_float(x) * xp.asarray(gain, dtype=xp.float32))


@perturbation("channel_failure", kind="camera", apply=apply_channel_failure)
def sample_channel_failure(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> ChannelFailureParams:
    """Colour-channel failure, loss from ``CHANNEL_FAILURE_LOSS``, channel uniform."""
    check_shape("channel_failure", shape)
    return ChannelFailureParams(channel=int(rng.integers(3)),
                                loss=float(severity_value(sev.CHANNEL_FAILURE_LOSS, severity, 0.0)))


# --- frozen frame -------------------------------------------------------------------------
@dataclass(frozen=True)
class FrozenFrameParams:
    depth_change: float  # relative distance change of the scene since the stale frame


def apply_frozen_frame(x: Any, params: FrozenFrameParams) -> Any:
    """The stale frame, approximated by minifying the image about the centre (see module doc)."""
    xp = check_image("frozen_frame", x)
    if params.depth_change == 0.0:
        return identity(x)
    h, w = x.shape[0], x.shape[1]
    rows, cols = grid(xp, h, w)
    s = 1.0 + params.depth_change
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    return filters.remap(x, cy + (rows - cy) * s, cx + (cols - cx) * s, border="replicate")


@perturbation("frozen_frame", kind="camera", apply=apply_frozen_frame)
def sample_frozen_frame(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> FrozenFrameParams:
    """Frozen frame, relative depth change from ``FROZEN_FRAME_DEPTH_CHANGE``; deterministic."""
    check_shape("frozen_frame", shape)
    return FrozenFrameParams(depth_change=float(severity_value(sev.FROZEN_FRAME_DEPTH_CHANGE, severity, 0.0)))
