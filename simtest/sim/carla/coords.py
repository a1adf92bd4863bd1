"""CARLA's left-handed frame <-> simtest's right-handed frame.

CARLA (Unreal) uses x forward, y **right**, z up, metres, angles in degrees with
yaw clockwise seen from above and pitch positive nose-up. simtest uses x
forward, y **left**, z up, radians, yaw counter-clockwise (see DESIGN.md).

Mirroring the y axis, ``S = diag(1, -1, 1)``, maps one onto the other: a point
``p`` becomes ``S p`` and a rotation ``R`` becomes ``S R S``. CARLA's rotation
matrix is ``Rz(yaw) Ry(-pitch) Rx(-roll)`` (math convention), so in simtest it is
``Rz(-yaw) Ry(-pitch) Rx(roll)``: yaw and pitch change sign, roll keeps it.

This module is the only place that knows CARLA's convention; everything it
returns is in simtest's frame. The simtest *world* frame is CARLA's world
mirrored in y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simtest.sim.base import Mount
from simtest.types import invert_transform, make_transform, rotation_rpy, transform_boxes

FLIP_Y = np.array([1.0, -1.0, 1.0])


def _carla() -> Any:
    import carla

    return carla


def vector_to_array(v: Any) -> np.ndarray:
    """A carla Location / Vector3D (metres) as a simtest-frame float64 array (3,)."""
    return np.array([v.x, -v.y, v.z], dtype=np.float64)


def array_to_location(p: Sequence[float]) -> Any:
    """A simtest-frame point (metres) as a ``carla.Location``."""
    return _carla().Location(x=float(p[0]), y=-float(p[1]), z=float(p[2]))


def rotation_to_matrix(rotation: Any) -> np.ndarray:
    """A ``carla.Rotation`` (degrees) as a simtest-frame 3x3 rotation matrix."""
    return rotation_rpy(
        math.radians(rotation.roll), -math.radians(rotation.pitch), -math.radians(rotation.yaw)
    )


def transform_to_matrix(transform: Any) -> np.ndarray:
    """A ``carla.Transform`` (child -> parent) as a simtest-frame 4x4 matrix (float64)."""
    return make_transform(rotation_to_matrix(transform.rotation), vector_to_array(transform.location))


def matrix_to_transform(T: np.ndarray) -> Any:
    """A simtest-frame 4x4 rigid transform as a ``carla.Transform``."""
    carla = _carla()
    R = T[:3, :3]
    pitch = math.asin(float(np.clip(-R[2, 0], -1.0, 1.0)))
    roll = math.atan2(R[2, 1], R[2, 2])
    yaw = math.atan2(R[1, 0], R[0, 0])
    rotation = carla.Rotation(pitch=-math.degrees(pitch), yaw=-math.degrees(yaw), roll=math.degrees(roll))
    return carla.Transform(array_to_location(T[:3, 3]), rotation)


def mount_to_transform(mount: Mount) -> Any:
    """A sensor :class:`~simtest.sim.base.Mount` (ego frame, degrees) as the ``carla.Transform``
    to attach the sensor to the ego vehicle with."""
    carla = _carla()
    return carla.Transform(
        carla.Location(x=mount.x, y=-mount.y, z=mount.z),
        carla.Rotation(pitch=-mount.pitch, yaw=-mount.yaw, roll=mount.roll),
    )


def sensor_points_to_simtest(xyz: np.ndarray) -> np.ndarray:
    """Lidar points (N, 3+) in a CARLA sensor frame -> the same sensor's simtest frame."""
    out = np.array(xyz, copy=True)
    out[:, 1] = -out[:, 1]
    return out


def actor_box_world(transform: Any, bounding_box: Any) -> np.ndarray:
    """An actor's box ``(x, y, z, length, width, height, yaw)`` in the simtest world frame.

    ``transform`` is the actor's ``carla.Transform``; ``bounding_box`` its
    ``carla.BoundingBox``, whose location and rotation are relative to the actor
    and whose ``extent`` holds half sizes. Box pitch and roll are dropped (boxes
    are yaw-only by contract).
    """
    T_world_actor = transform_to_matrix(transform)
    centre = T_world_actor[:3, :3] @ vector_to_array(bounding_box.location) + T_world_actor[:3, 3]
    R = T_world_actor[:3, :3] @ rotation_to_matrix(bounding_box.rotation)
    e = bounding_box.extent
    return np.array(
        [centre[0], centre[1], centre[2], 2 * e.x, 2 * e.y, 2 * e.z, math.atan2(R[1, 0], R[0, 0])],
        dtype=np.float64,
    )


def world_boxes_to_ego(boxes_world: np.ndarray, T_world_from_ego: np.ndarray) -> np.ndarray:
    """Move simtest-world boxes (N, 7) into the ego frame; yaw follows the ego's heading."""
    if len(boxes_world) == 0:
        return np.zeros((0, 7))
    return transform_boxes(invert_transform(T_world_from_ego), boxes_world)


def world_velocity_to_ego(velocity: Any, T_world_from_ego: np.ndarray) -> np.ndarray:
    """An actor's world velocity (``carla.Vector3D``, m/s) as (vx, vy) along the ego axes."""
    return (T_world_from_ego[:3, :3].T @ vector_to_array(velocity))[:2]
