"""Pinhole camera: rays, shading, weather, exposure.

Rays go through pixel centres (OpenCV axes: x right, y down, z forward); their
first hits are shaded (shading.py), the weather is applied (camera_weather.py),
and auto exposure encodes 8-bit sRGB (exposure.py). The per-pixel actor index
of the first hit is kept for the visible-fraction ground truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simtest.sim.base import CameraSpec, Conditions
from simtest.sim.embedded.camera_weather import draw_particles, extinction
from simtest.sim.embedded.exposure import encode, exposure_gain, metered_key
from simtest.sim.embedded.lighting import Lighting
from simtest.sim.embedded.scene import FrameScene, Hits, SensorRays, rays_from
from simtest.sim.embedded.shading import LightRig, ShadeBuffers, SurfaceParams, glare_source, shade

if TYPE_CHECKING:
    from simtest.sim.embedded.patches import PatchFrame


@dataclass(frozen=True)
class CameraRender:
    """One rendered camera: the uint8 image, linear radiance (H, W, 3) before exposure
    (cd/m^2), the rays (H*W, 6) in scene coordinates, first hits, and the actor index per pixel (H, W), -1 for none.
    The radiance and rays are the renderer's buffers: its next render overwrites them."""

    image: np.ndarray
    rays: np.ndarray
    radiance: np.ndarray
    hits: Hits
    actor: np.ndarray
    gain: float


class CameraRenderer:
    """Renders one :class:`CameraSpec`; ray directions are computed once."""

    def __init__(self, spec: CameraSpec) -> None:
        self.spec = spec
        self.K = spec.K()
        self.T_ego_from_cam = spec.T_ego_from_cam()
        u, v = np.meshgrid(np.arange(spec.width) + 0.5, np.arange(spec.height) + 0.5)
        d = np.stack([(u - self.K[0, 2]) / self.K[0, 0], (v - self.K[1, 2]) / self.K[1, 1], np.ones_like(u)], -1)
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        self.dirs_cam = d.reshape(-1, 3).astype(np.float32)
        self._rays = SensorRays(self.dirs_cam)
        self._buffers = ShadeBuffers.for_pixels(len(self.dirs_cam))
        half_w, half_h = math.atan(spec.width / 2 / self.K[0, 0]), math.atan(spec.height / 2 / self.K[1, 1])
        self.half_diagonal = math.atan(math.hypot(math.tan(half_w), math.tan(half_h)))

    def scene_rays(self, T_scene_from_ego: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(rays (H*W, 6) as origin + unit direction, the directions (H*W, 3) contiguous, origin (3,),
        optical axis (3,)) in the frame's scene coordinates (world axes about the ego's position,
        :class:`.scene.FrameScene`), reused from frame to frame (:class:`.scene.SensorRays`)."""
        R, origin = self._rays.at(T_scene_from_ego @ self.T_ego_from_cam)
        return self._rays.rays, self._rays.dirs, origin, R[:, 2]

    def render(
        self,
        scene: FrameScene,
        T_scene_from_ego: np.ndarray,
        light: Lighting,
        lights: LightRig,
        surf: SurfaceParams,
        conditions: Conditions,
        rng: np.random.Generator,
        ego_speed: float = 0.0,
        patches: PatchFrame | None = None,
    ) -> CameraRender:
        """Cast, shade and expose one image; ``T_scene_from_ego`` is the ego's pose in the scene's
        coordinates (world axes, origin at the scene's origin)."""
        h, w = self.spec.height, self.spec.width
        rays, dirs, origin, axis = self.scene_rays(T_scene_from_ego)
        hits = scene.cast(rays, dirs)
        glare = None
        if light.sun_up and axis @ light.sun_dir > math.cos(self.half_diagonal):
            if not scene.occluded(rays_from(origin, light.sun_dir[None, :]))[0]:
                glare = glare_source(light, axis, self.half_diagonal)
        radiance = shade(scene, hits, origin, dirs, light, lights, surf, patches,
                         extinction=extinction(conditions), glare=glare, buffers=self._buffers)
        image = radiance.reshape(h, w, 3)
        if conditions.rain_rate > 0 or conditions.snowfall_rate > 0:
            brightness = 0.8 * light.airlight + 0.2 * light.horizon_rgb
            draw_particles(image, self.K, conditions, brightness.astype(np.float32), rng, ego_speed)
        gain = exposure_gain(metered_key(image))
        return CameraRender(image=encode(image, gain), rays=rays, radiance=image, hits=hits,
                            actor=hits.actor.reshape(h, w), gain=gain)
