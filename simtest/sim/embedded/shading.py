"""Surface and sky radiance (cd/m^2, linear RGB) for camera rays.

Surfaces are Lambertian: ``L = albedo / pi * E`` with the irradiance ``E`` from
the sun (ray-cast shadows), the sky dome (hemispherical ambient, ``(1 + n_z)/2``
of the horizontal sky illuminance), light bounced off the ground, street lamps
(cosine-weighted downward emitters, inverse-square) and the ego's low-beam
headlights (a beam pattern with a sharp cut-off above the horizon, inverse-square). Wet road-like surfaces darken (light trapped in
the water film) and mirror the sky with Fresnel reflectance, plus a glossy sun
glint. Snow whitens upward-facing surfaces. Missed rays see the sky dome and the
sun's disc; a sun in view adds veiling glare after Stiles–Holladay
``L_veil = 10 E_glare / theta^2`` (theta in degrees).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from perturbations.lidar.weather import WET_DARKENING, fresnel_reflectance
from simtest.sim.embedded.lighting import HEADLIGHT_CD, LUMA, SUN_ANGULAR_RADIUS, Lighting, headlight_pattern
from simtest.sim.embedded.materials import MaterialArrays
from simtest.sim.embedded.scene import SURFACE_OFFSET, FrameScene, Hits

if TYPE_CHECKING:
    from simtest.sim.embedded.patches import PatchFrame

GROUND_BOUNCE = 0.15  # mean albedo of the surroundings for light reflected onto vertical faces
SNOW_ALBEDO = 0.85
GLINT_EXPONENT = 300.0  # Phong exponent of the wet-road sun glint
LAMP_RGB = np.array([1.08, 0.98, 0.78], np.float32)  # warm white, luminance ~1
HEADLIGHT_RGB = np.array([1.0, 1.0, 0.97], np.float32)
LAMP_REACH = 90.0  # m, street lamps farther than this from the camera are ignored
LAMP_RADIUS = 25.0  # m, a lamp lights points within this box around it (< 0.2 lux beyond)


@dataclass(frozen=True)
class LightRig:
    """Artificial light of one frame (world frame): lamp heads (K, 3) with their intensity
    straight down (cd), headlight positions (H, 3), the ego's rotation ``headlight_frame``
    (3x3, ego axes as rows: world -> ego) and the peak intensity (cd)."""

    lamps: np.ndarray
    lamp_cd: float
    headlights: np.ndarray
    headlight_frame: np.ndarray
    headlight_cd: float = HEADLIGHT_CD


@dataclass(frozen=True)
class SurfaceParams:
    """Per-episode surface state: materials (emissive already switched), wetness 0..1,
    snow cover 0..1 on upward-facing snow-collecting surfaces, shadows on or off.
    ``albedo`` is the material albedo with wet road-like surfaces darkened."""

    materials: MaterialArrays
    wetness: float
    snow_cover: float
    shadows: bool

    @property
    def albedo(self) -> np.ndarray:
        return _wet_albedo(self.materials, self.wetness)


@functools.lru_cache(maxsize=8)
def _wet_albedo_cached(albedo: bytes, wettable: bytes, wetness: float) -> np.ndarray:
    a = np.frombuffer(albedo, np.float32).reshape(-1, 3).copy()
    w = np.frombuffer(wettable, bool)
    a[w] *= (1 - wetness) + wetness * WET_DARKENING
    return a


def _wet_albedo(materials: MaterialArrays, wetness: float) -> np.ndarray:
    return _wet_albedo_cached(materials.albedo.tobytes(), materials.wettable.tobytes(), float(wetness))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of two (N, 3) arrays."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _lamp_weight(p: np.ndarray, n: np.ndarray, lamps: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Sum over street lamps of ``cos_emit * cos_in / d^2`` (lux per cd) at points ``p`` with normals ``n``."""
    w = np.zeros(len(p), np.float32)
    near = lamps[np.linalg.norm(lamps - origin, axis=1) < LAMP_REACH]
    for lamp in near:
        close = np.flatnonzero((np.abs(p[:, 0] - lamp[0]) < LAMP_RADIUS) & (np.abs(p[:, 1] - lamp[1]) < LAMP_RADIUS))
        if not len(close):
            continue
        v = lamp[None, :] - p.take(close, axis=0)
        d2 = np.maximum(_dot(v, v), 0.25)
        inv = 1.0 / np.sqrt(d2)
        cos_in = np.maximum(_dot(n.take(close, axis=0), v) * inv, 0.0)
        w[close] += np.maximum(v[:, 2] * inv, 0.0) * cos_in / d2
    return w


def _headlight_weight(p: np.ndarray, n: np.ndarray, rig: LightRig) -> np.ndarray:
    """Sum over the ego's headlights of ``I(direction) * cos_in / d^2`` (lux)."""
    w = np.zeros(len(p), np.float32)
    for lamp in rig.headlights:
        v = p - lamp[None, :]
        d2 = np.maximum(_dot(v, v), 0.25)
        inv = 1.0 / np.sqrt(d2)
        beam = headlight_pattern(v @ rig.headlight_frame.T, inv)
        cos_in = np.maximum(-_dot(n, v) * inv, 0.0)
        w += rig.headlight_cd * beam * cos_in / d2
    return w


def _points(origin: np.ndarray, dirs: np.ndarray, t: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Hit points (N, 3); misses get the ray origin."""
    return origin[None, :] + dirs * np.where(hit, t, 0.0).astype(np.float32)[:, None]


def shade(
    scene: FrameScene,
    hits: Hits,
    origin: np.ndarray,
    dirs: np.ndarray,
    light: Lighting,
    rig: LightRig,
    surf: SurfaceParams,
    patches: PatchFrame | None = None,
) -> np.ndarray:
    """Radiance (N, 3) along unit world rays ``dirs`` (N, 3) from ``origin``: surfaces where they hit, sky elsewhere.

    ``patches``: the frame's textured patch quads (:mod:`.patches`); hits on them take the texture's albedo.
    """
    hit = hits.hit
    n = hits.normal
    mat = hits.material  # -1 on a miss: the last table row, overwritten by the sky below
    nz = n[:, 2]
    points = None if not (len(rig.lamps) or len(rig.headlights)) else _points(origin, dirs, hits.t, hit)
    horizontal = float(light.sun_rgb @ LUMA) * max(float(light.sun_dir[2]), 0.0) + float(light.sky_rgb @ LUMA)
    k = 2 + light.sun_up + bool(len(rig.lamps)) + bool(len(rig.headlights))
    W = np.empty((k, len(dirs)), np.float32)  # per-pixel weight of each light's colour
    np.multiply(nz, np.float32(0.5), out=W[0])
    np.subtract(np.float32(0.5), W[0], out=W[1])
    W[0] += np.float32(0.5)
    colours = [light.sky_rgb, np.full(3, GROUND_BOUNCE * horizontal, np.float32)]
    row = 2
    if light.sun_up:
        ndl = W[row]
        np.matmul(n, light.sun_dir, out=ndl)
        np.maximum(ndl, 0.0, out=ndl)
        if surf.shadows:
            lit = np.flatnonzero((ndl > 0) & hit)
            shadow_rays = np.empty((len(lit), 6), np.float32)
            start = shadow_rays[:, :3]
            np.multiply(dirs.take(lit, axis=0), hits.t.take(lit)[:, None], out=start)
            start += n.take(lit, axis=0) * np.float32(SURFACE_OFFSET)
            start += origin
            shadow_rays[:, 3:] = light.sun_dir
            ndl[lit[scene.occluded(shadow_rays)]] = 0.0
        colours.append(light.sun_rgb)
        row += 1
    if len(rig.lamps):
        W[row] = rig.lamp_cd * _lamp_weight(points, n, rig.lamps, origin)
        colours.append(LAMP_RGB)
        row += 1
    if len(rig.headlights):
        W[row] = _headlight_weight(points, n, rig)
        colours.append(HEADLIGHT_RGB)
    L = W.T @ (np.stack(colours).astype(np.float32) / np.float32(math.pi))  # irradiance / pi
    albedo = surf.albedo.take(mat, axis=0)
    if patches is not None:
        patches.apply_albedo(albedo, mat, _points(origin, dirs, hits.t, hit))
    if surf.snow_cover > 0:
        snowy = np.flatnonzero(surf.materials.snow.take(mat) & (nz > 0.6))
        albedo[snowy] = albedo[snowy] * (1 - surf.snow_cover) + SNOW_ALBEDO * surf.snow_cover
    L *= albedo
    if surf.materials.emissive.any():
        emissive = surf.materials.emissive.take(mat)
        glow = np.flatnonzero(emissive > 0)
        L[glow] += emissive[glow, None] * LAMP_RGB[None, :]
    if surf.wetness > 0:
        wet = np.flatnonzero(surf.materials.wettable.take(mat) & hit)
        dw, nw = dirs.take(wet, axis=0), n.take(wet, axis=0)
        dn = _dot(dw, nw)
        refl = dw - 2 * dn[:, None] * nw
        F = fresnel_reflectance(np.clip(-dn, 0.0, 1.0)).astype(np.float32)
        gloss = light.sky_radiance(refl)
        if light.sun_up:
            glint = np.maximum(refl @ light.sun_dir, 0.0) ** GLINT_EXPONENT * ((GLINT_EXPONENT + 2) / (2 * math.pi))
            gloss += glint[:, None] * light.sun_rgb[None, :]
        L[wet] += (surf.wetness * F)[:, None] * gloss
    miss = np.flatnonzero(~hit)
    L[miss] = sky_radiance(dirs.take(miss, axis=0), light)
    return L


def sky_radiance(dirs: np.ndarray, light: Lighting) -> np.ndarray:
    """Radiance (N, 3) of missed rays: the sky dome and the sun's disc."""
    L = light.sky_radiance(dirs)
    if light.sun_up:
        in_disc = dirs @ light.sun_dir > math.cos(SUN_ANGULAR_RADIUS)
        if in_disc.any():
            L[in_disc] += light.sun_rgb / (math.pi * SUN_ANGULAR_RADIUS**2)
    return L


def veiling_glare(dirs: np.ndarray, light: Lighting, axis: np.ndarray, half_fov: float) -> np.ndarray | None:
    """Stiles–Holladay veiling luminance (N, 3) when the sun is within the field of view, else None.

    ``axis`` is the camera's optical axis (world), ``half_fov`` the half diagonal field of view (rad).
    """
    if not light.sun_up:
        return None
    cos_axis = float(axis @ light.sun_dir)
    if cos_axis < math.cos(half_fov):
        return None
    e_glare = float(light.sun_rgb @ LUMA) * cos_axis
    theta = np.degrees(np.arccos(np.clip(dirs @ light.sun_dir, -1.0, 1.0)))
    veil = 10.0 * e_glare / np.maximum(theta, 0.5) ** 2
    tint = light.sun_rgb / max(float(light.sun_rgb @ LUMA), 1e-9)
    return (veil[:, None] * tint[None, :]).astype(np.float32)
