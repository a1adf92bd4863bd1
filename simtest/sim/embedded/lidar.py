"""Spinning lidar: beam pattern, ray casting, intensity, detection, weather, motion distortion.

Each ray's apparent reflectivity is the surface's 905 nm reflectivity times the
cosine of the incidence angle (range-compensated, as the sensor reports it).
In clear air a return is detected when that exceeds the receiver threshold
scaled by ``(R / R_max)^2`` (received power falls as ``rho cos(theta) / R^2``;
``R_max`` is the spec range for a target at the threshold reflectivity).
Weather then acts on every ray, sky rays included, through
:func:`perturbations.lidar.weather.ray_weather` (the single implementation of
lidar weather): two-way extinction, fog backscatter, rain and snow particles;
a wet road mirrors grazing beams away (``apply_wet_ground``, same module).

Columns are fired in azimuth order over one revolution that ends at the frame
time. With ``motion_distortion`` each column is cast from the ego pose at its
own firing time but reported in the sensor frame without compensation, so a
moving ego smears the scan as a real spinning lidar does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from perturbations.lidar.scan import Scan
from perturbations.lidar.weather import (
    FOG,
    HARD,
    PARTICLE,
    LidarOptics,
    WetGroundParams,
    apply_wet_ground,
    ray_weather,
)
from perturbations.xp import draw_seed
from simtest.sim.base import Conditions, LidarSpec
from simtest.sim.embedded import kernels
from simtest.sim.embedded.materials import MaterialArrays
from simtest.sim.embedded.scene import FrameScene, SensorRays
from simtest.types import Lidar

BACKGROUND, WEATHER = -1, -2
SNOW_REFLECTIVITY = 0.8


@dataclass(frozen=True)
class LidarRender:
    """A lidar sweep whose ``labels`` are object ids (-1 background, -2 weather), and the number
    of returns from each actor (scenario order)."""

    lidar: Lidar
    actor_points: np.ndarray


class LidarRenderer:
    """Casts one :class:`LidarSpec`; the beam pattern is computed once."""

    def __init__(self, spec: LidarSpec, optics: LidarOptics = LidarOptics()) -> None:
        self.spec = spec
        self.optics = optics
        self.T_ego_from_lidar = spec.mount.T_ego_from_sensor()
        el = np.radians(spec.elevations())
        n = spec.azimuth_steps
        frac = (np.arange(n) + 0.5) / n
        az = math.pi - 2 * math.pi * frac  # clockwise from the rear, as spinning lidars fire
        E, A = np.meshgrid(el, az, indexing="ij")  # (beams, steps)
        d = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], -1)
        self.dirs_lidar = d.reshape(-1, 3).astype(np.float32)
        self.ring = np.repeat(np.arange(spec.beams, dtype=np.int32), n)
        self.column = np.tile(np.arange(n), spec.beams)
        # firing time of each column relative to the frame time (s, <= 0)
        self.column_time = -(1.0 - frac) / spec.rotation_hz
        self._rays = SensorRays(self.dirs_lidar)
        self._dirs_ego = self.dirs_lidar @ self.T_ego_from_lidar[:3, :3].T.astype(np.float32)
        self._t_ego_from_lidar = self.T_ego_from_lidar[:3, 3].astype(np.float32)
        self._origin = tuple(self.T_ego_from_lidar[:3, 3])

    def render(
        self,
        scene: FrameScene,
        pose_at: Callable[[float], np.ndarray],
        t: float,
        materials: MaterialArrays,
        conditions: Conditions,
        rng: np.random.Generator,
        object_ids: np.ndarray,
        snow_cover: float = 0.0,
    ) -> LidarRender:
        """One sweep at frame time ``t``; ``pose_at(time)`` gives the ego's pose (4x4) in the scene's
        coordinates (:class:`.scene.FrameScene`) at any time;
        ``object_ids`` (int64) are the actors' object ids, by actor index."""
        spec = self.spec
        if spec.motion_distortion:
            rays = self._rays.write(*self._distorted_rays(pose_at, t))
        else:
            self._rays.at(pose_at(t) @ self.T_ego_from_lidar)
            rays = self._rays.rays
        hits = scene.cast(rays)
        ranges, apparent = kernels.lidar_returns(
            hits.t, hits.normal, rays, hits.material, materials.reflectivity, materials.snow, float(snow_cover),
            SNOW_REFLECTIVITY, float(spec.range), float(self.optics.min_reflectivity),
        )
        returns, intensities, kind = ray_weather(
            ranges, apparent,
            fog_alpha=conditions.fog_alpha, rain_rate=conditions.rain_rate,
            snowfall_rate=conditions.snowfall_rate, rng=rng, max_range=spec.range, optics=self.optics,
        )
        points, ring, actor = kernels.lidar_points(
            returns, intensities, kind, hits.actor, self._dirs_ego, self._t_ego_from_lidar,
            self.ring, HARD, FOG, PARTICLE, WEATHER, BACKGROUND,
        )
        scan = Scan(points, ring, labels=actor, origin=self._origin, num_beams=spec.beams)
        if conditions.road_wetness > 0:
            scan = apply_wet_ground(scan, WetGroundParams(conditions.road_wetness, draw_seed(rng)))
        labels, counts = kernels.point_labels(scan.labels, object_ids)
        return LidarRender(
            Lidar(points=scan.points, ring=scan.ring, T_ego_from_lidar=self.T_ego_from_lidar,
                  num_beams=spec.beams, labels=labels, timestamp=t),
            counts,
        )

    def _distorted_rays(self, pose_at: Callable[[float], np.ndarray], t: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-column origins and directions from the ego pose at each column's firing time."""
        n = self.spec.azimuth_steps
        origins = np.empty((n, 3), np.float32)
        rots = np.empty((n, 3, 3), np.float32)
        for k, dt in enumerate(self.column_time):
            T = pose_at(t + dt) @ self.T_ego_from_lidar
            origins[k] = T[:3, 3]
            rots[k] = T[:3, :3]
        col = self.column
        dirs = np.einsum("nij,nj->ni", rots[col], self.dirs_lidar)
        return origins[col], dirs.astype(np.float32)
