"""Surface and sky radiance (cd/m^2, linear RGB) for camera rays.

Surfaces are Lambertian: ``L = albedo / pi * E`` with the irradiance ``E`` from
the sun (ray-cast shadows), the sky dome (hemispherical ambient, ``(1 + n_z)/2``
of the horizontal sky illuminance), light bounced off the ground
(``GROUND_BOUNCE`` of the horizontal illuminance, ``(1 - n_z)/2``), street lamps
(cosine-weighted downward emitters, inverse-square) and the ego's low-beam
headlights (a beam pattern with a sharp cut-off above the horizon, see
:mod:`.lighting`, inverse-square). Wet road-like surfaces darken (light trapped
in the water film) and mirror the sky with Fresnel reflectance, plus a glossy
sun glint (Phong lobe). Snow whitens upward-facing surfaces. Missed rays see the
sky dome and the sun's disc; a sun in view adds veiling glare after
Stiles–Holladay ``L_veil = 10 E_glare / theta^2`` (theta in degrees). Finally the
atmosphere's extinction mixes in the airlight (Koschmieder, see
:mod:`.camera_weather`). The per-pixel arithmetic runs in one compiled pass
(:mod:`.shading_kernels`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from perturbations.lidar.weather import WET_DARKENING, fresnel_reflectance
from simtest.sim.embedded import shading_kernels
from simtest.sim.embedded.lighting import (
    HEADLIGHT_CD,
    HEADLIGHT_CUTOFF,
    HEADLIGHT_CUTOFF_SOFTNESS,
    HEADLIGHT_PEAK,
    HEADLIGHT_SPREAD,
    LUMA,
    SUN_ANGULAR_RADIUS,
    Lighting,
)
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
FRESNEL_TABLE = np.asarray(fresnel_reflectance(np.linspace(0.0, 1.0, 1024)), np.float32)
"""Fresnel reflectance of water against the incidence cosine (0..1), from the lidar weather module."""
HEADLIGHT_SHAPE = np.array(
    [math.sin(HEADLIGHT_PEAK), math.tan(HEADLIGHT_SPREAD[0]), math.sin(HEADLIGHT_SPREAD[1]),
     math.sin(HEADLIGHT_CUTOFF), math.sin(HEADLIGHT_CUTOFF_SOFTNESS)], np.float64
)
"""The low-beam pattern in beam coordinates (sine of the elevation, tangent of the azimuth)."""


@dataclass(frozen=True)
class LightRig:
    """Artificial light of one frame (in the frame's scene coordinates: world axes about the scene's
    origin): lamp heads (K, 3) float32 with their intensity straight down (cd), headlight positions (H, 3),
    the ego's rotation ``headlight_frame`` (3x3, ego axes as rows: world -> ego) and the peak
    intensity (cd)."""

    lamps: np.ndarray
    lamp_cd: float
    headlights: np.ndarray
    headlight_frame: np.ndarray
    headlight_cd: float = HEADLIGHT_CD


_NO_GLARE = (0.0, np.zeros(3, np.float32))


@dataclass(frozen=True)
class ShadeBuffers:
    """Work arrays of :func:`shade` for N pixels, which a renderer keeps from frame to frame: fresh
    ones (12 MB at 640x384) are first-touched, page by page, whenever the heap has gone back to the
    system between frames (measured: 2,000 page faults a frame while the benchmark keeps each frame's
    rays). ``radiance`` (N, 3) float32 is :func:`shade`'s result, overwritten by the next call.
    ``unlit`` (N,) float32 zeros, never written, is the sun term of every pixel while the sun is down."""

    radiance: np.ndarray
    sunlit: np.ndarray
    lit: np.ndarray
    shadow_rays: np.ndarray
    unlit: np.ndarray

    @classmethod
    def for_pixels(cls, n: int) -> ShadeBuffers:
        return cls(np.empty((n, 3), np.float32), np.empty(n, np.float32), np.empty(n, np.int64),
                   np.empty((n, 6), np.float32), np.zeros(n, np.float32))


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


def shade(
    scene: FrameScene,
    hits: Hits,
    origin: np.ndarray,
    dirs: np.ndarray,
    light: Lighting,
    rig: LightRig,
    surf: SurfaceParams,
    patches: PatchFrame | None = None,
    *,
    extinction: float = 0.0,
    glare: tuple[float, np.ndarray] | None = None,
    buffers: ShadeBuffers | None = None,
) -> np.ndarray:
    """Radiance (N, 3) along unit rays ``dirs`` (N, 3) from ``origin`` (scene coordinates, world axes):
    surfaces where they hit, sky
    elsewhere, then veiling ``glare`` (illuminance at the lens, tint; see :func:`glare_source`) and the
    atmosphere's ``extinction`` (1/m) with the light's airlight.

    ``patches``: the frame's textured patch quads (:mod:`.patches`); hits on them take the texture's albedo.
    ``buffers``: work arrays for ``len(dirs)`` pixels, reused from call to call (fresh ones when None);
    the radiance returned is ``buffers.radiance``.
    """
    work = buffers if buffers is not None else ShadeBuffers.for_pixels(len(dirs))
    n = hits.normal
    mat = hits.material  # -1 on a miss: the last table row, never read for a miss
    if light.sun_up:
        sunlit, lit, rays = shading_kernels.sun_rays(dirs, hits.t, n, origin, light.sun_dir,
                                                     np.float32(SURFACE_OFFSET), surf.shadows,
                                                     work.sunlit, work.lit, work.shadow_rays)
        if surf.shadows:
            shading_kernels.shade_out(sunlit, lit, scene.occluded(rays))
    else:
        sunlit = work.unlit
    albedo_px = np.zeros((0, 3), np.float32)
    if patches is not None:
        albedo_px = surf.albedo.take(mat, axis=0)
        points = origin[None, :] + dirs * np.where(hits.hit, hits.t, 0.0)[:, None]
        patches.apply_albedo(albedo_px, mat, scene.to_world(points))
    lamps = shading_kernels.lamps_within(rig.lamps, origin, LAMP_REACH)
    veil_e, veil_tint = glare if glare is not None else _NO_GLARE
    m = surf.materials
    out = work.radiance
    shading_kernels.shade_pixels(
        dirs, hits.t, n, mat, sunlit, albedo_px, surf.albedo, m.emissive, m.wettable, m.snow,
        light.sky_table, light.sky_rgb, np.float32(GROUND_BOUNCE * light.horizontal_illuminance), light.sun_rgb, light.sun_dir,
        math.cos(SUN_ANGULAR_RADIUS), light.sun_disc,
        lamps, float(rig.lamp_cd), LAMP_RGB, LAMP_RADIUS,
        shading_kernels.beam_constants(rig.headlights, rig.headlight_frame, HEADLIGHT_SHAPE),
        float(rig.headlight_cd), HEADLIGHT_RGB, HEADLIGHT_SHAPE,
        origin, float(surf.wetness), float(surf.snow_cover), SNOW_ALBEDO, FRESNEL_TABLE, GLINT_EXPONENT,
        float(veil_e), np.asarray(veil_tint, np.float32), float(extinction), light.airlight, out,
    )
    return out


def glare_source(light: Lighting, axis: np.ndarray, half_fov: float) -> tuple[float, np.ndarray] | None:
    """Illuminance at the lens (lux) and colour tint of a sun within the field of view, else None.

    ``axis`` is the camera's optical axis (world), ``half_fov`` the half diagonal field of view (rad).
    """
    if not light.sun_up:
        return None
    cos_axis = float(axis @ light.sun_dir)
    if cos_axis < math.cos(half_fov):
        return None
    tint = light.sun_rgb / max(float(light.sun_rgb @ LUMA), 1e-9)
    return float(light.sun_rgb @ LUMA) * cos_axis, tint.astype(np.float32)
