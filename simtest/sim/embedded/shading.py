"""Surface and sky radiance (cd/m^2, linear RGB) for camera rays.

Surfaces are Lambertian: ``L = albedo / pi * E`` with the irradiance ``E`` from
the sun (ray-cast shadows), the sky dome (hemispherical ambient, ``(1 + n_z)/2``
of the horizontal sky illuminance), light bounced off the ground, street lamps
(cosine-weighted downward emitters, inverse-square) and the ego's headlights
(spot cones, inverse-square). Wet road-like surfaces darken (light trapped in
the water film) and mirror the sky with Fresnel reflectance, plus a glossy sun
glint. Snow whitens upward-facing surfaces. Missed rays see the sky dome and the
sun's disc; a sun in view adds veiling glare after Stiles–Holladay
``L_veil = 10 E_glare / theta^2`` (theta in degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perturbations.lidar.weather import WET_DARKENING, fresnel_reflectance
from simtest.sim.embedded.lighting import (
    HEADLIGHT_CD,
    LUMA,
    SUN_ANGULAR_RADIUS,
    Lighting,
    spot_falloff,
)
from simtest.sim.embedded.materials import MaterialArrays
from simtest.sim.embedded.scene import SURFACE_OFFSET, FrameScene, Hits, rays_from

GROUND_BOUNCE = 0.15  # mean albedo of the surroundings for light reflected onto vertical faces
SNOW_ALBEDO = 0.85
GLINT_EXPONENT = 300.0  # Phong exponent of the wet-road sun glint
LAMP_RGB = np.array([1.08, 0.98, 0.78], np.float32)  # warm white, luminance ~1
HEADLIGHT_RGB = np.array([1.0, 1.0, 0.97], np.float32)
LAMP_REACH = 70.0  # m, street lamps farther than this from the camera are ignored


@dataclass(frozen=True)
class LightRig:
    """Artificial light of one frame (world frame): lamp heads (K, 3) with their intensity
    straight down (cd), headlight positions (2, 3) and axis (3,) with intensity (cd)."""

    lamps: np.ndarray
    lamp_cd: float
    headlights: np.ndarray
    headlight_axis: np.ndarray
    headlight_cd: float = HEADLIGHT_CD


@dataclass(frozen=True)
class SurfaceParams:
    """Per-episode surface state: materials (emissive already switched), wetness 0..1,
    snow cover 0..1 on upward-facing snow-collecting surfaces, shadows on or off."""

    materials: MaterialArrays
    wetness: float
    snow_cover: float
    shadows: bool


def surface_radiance(
    scene: FrameScene,
    hits: Hits,
    idx: np.ndarray,
    origin: np.ndarray,
    dirs: np.ndarray,
    light: Lighting,
    rig: LightRig,
    surf: SurfaceParams,
) -> np.ndarray:
    """Radiance (len(idx), 3) of the surfaces hit by rays ``idx`` (unit ``dirs`` (N, 3), one ``origin``)."""
    d = dirs[idx]
    t = hits.t[idx][:, None]
    n = hits.normal[idx]
    mat = hits.material[idx]
    p = origin[None, :] + d * t
    albedo = surf.materials.albedo[mat]
    nz = n[:, 2]
    if surf.snow_cover > 0:
        snowy = surf.materials.snow[mat] & (nz > 0.6)
        albedo[snowy] = albedo[snowy] * (1 - surf.snow_cover) + SNOW_ALBEDO * surf.snow_cover
    wet = surf.materials.wettable[mat] if surf.wetness > 0 else None
    if wet is not None:
        albedo[wet] *= (1 - surf.wetness) + surf.wetness * WET_DARKENING
    horizontal = float(light.sun_rgb @ LUMA) * max(float(light.sun_dir[2]), 0.0) + float(light.sky_rgb @ LUMA)
    E = light.sky_rgb[None, :] * (0.5 + 0.5 * nz)[:, None]
    E += (GROUND_BOUNCE * horizontal * (0.5 - 0.5 * nz))[:, None].astype(np.float32)
    if light.sun_up:
        ndl = n @ light.sun_dir
        lit = np.flatnonzero(ndl > 0)
        if surf.shadows and len(lit):
            shadow_rays = rays_from(p[lit] + n[lit] * SURFACE_OFFSET, np.broadcast_to(light.sun_dir, (len(lit), 3)))
            ndl[lit[scene.occluded(shadow_rays)]] = 0.0
        E += np.maximum(ndl, 0.0)[:, None] * light.sun_rgb[None, :]
    if len(rig.lamps):
        near = rig.lamps[np.linalg.norm(rig.lamps - origin, axis=1) < LAMP_REACH]
        for lamp in near:
            v = lamp[None, :] - p
            d2 = np.maximum(np.einsum("ij,ij->i", v, v), 0.25)
            inv = 1.0 / np.sqrt(d2)
            cos_emit = np.maximum(v[:, 2] * inv, 0.0)
            cos_in = np.maximum(np.einsum("ij,ij->i", n, v) * inv, 0.0)
            E += (rig.lamp_cd * cos_emit * cos_in / d2)[:, None] * LAMP_RGB[None, :]
    for lamp in rig.headlights:
        v = p - lamp[None, :]
        d2 = np.maximum(np.einsum("ij,ij->i", v, v), 0.25)
        inv = 1.0 / np.sqrt(d2)
        cone = spot_falloff((v @ rig.headlight_axis) * inv)
        cos_in = np.maximum(-np.einsum("ij,ij->i", n, v) * inv, 0.0)
        E += (rig.headlight_cd * cone * cos_in / d2)[:, None] * HEADLIGHT_RGB[None, :]
    L = albedo * (E * np.float32(1 / math.pi))
    L += surf.materials.emissive[mat][:, None] * LAMP_RGB[None, :]
    if wet is not None and wet.any():
        w = np.flatnonzero(wet)
        dn = np.einsum("ij,ij->i", d[w], n[w])
        refl = d[w] - 2 * dn[:, None] * n[w]
        F = fresnel_reflectance(np.clip(-dn, 0.0, 1.0)).astype(np.float32)
        L[w] += (surf.wetness * F)[:, None] * light.sky_radiance(refl)
        if light.sun_up:
            glint = np.maximum(refl @ light.sun_dir, 0.0) ** GLINT_EXPONENT * (GLINT_EXPONENT + 2) / (2 * math.pi)
            L[w] += (surf.wetness * F * glint)[:, None] * light.sun_rgb[None, :]
    return L.astype(np.float32, copy=False)


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
