"""Shared helpers of the CARLA backend tests: a small rig and a hand-made episode plan."""

from __future__ import annotations

import numpy as np

from simtest.sim.base import CameraSpec, LidarSpec, Mount, SensorRig
from simtest.sim.carla.episode import ActorPlan, EpisodePlan

EGO_SPEED = 10.0  # m/s along simtest world +x


def small_rig() -> SensorRig:
    """A 160 x 96 camera and a 16-beam x 180-step lidar: enough to check geometry, fast."""
    return SensorRig(
        cameras={"front": CameraSpec(width=160, height=96, fov=90.0, mount=Mount(x=1.5, z=1.6))},
        lidars={"top": LidarSpec(beams=16, azimuth_steps=180, range=60.0, fov_up=5.0, fov_down=-25.0, mount=Mount(z=1.9))},
    )


def _ego_pose(t: float) -> np.ndarray:
    return np.array([EGO_SPEED * t, 0.0, 0.0, 0.0])


def plan(with_pedestrian: bool = True) -> EpisodePlan:
    """Ego driving along +x; a parked car 25 m ahead; a pedestrian hidden behind it, 3 m further."""
    actors = [ActorPlan("lead", "vehicle", "vehicle.tesla.model3", lambda t: np.array([25.0, 0.0, 0.0, 0.0]))]
    if with_pedestrian:
        actors.append(
            ActorPlan("child", "pedestrian", "walker.pedestrian.0010", lambda t: np.array([28.0, 0.0, 0.0, 0.0]))
        )
    return EpisodePlan(map=None, ego=ActorPlan("ego", "vehicle", "vehicle.lincoln.mkz_2020", _ego_pose), actors=tuple(actors))
