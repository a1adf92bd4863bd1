"""Ground-truth :class:`~simtest.types.Objects` of one CARLA frame.

Boxes come from each actor's ``bounding_box`` and its pose in the frame's world
snapshot, converted to the ego frame (coords.py). Visible fraction comes from
the instance-segmentation cameras (visibility.py; the largest over cameras),
lidar point counts from the per-point actor labels that lidar.py transferred
from ``ray_cast_semantic`` (returns lost to weather do not count). In-path and
safety-critical flags are computed by the shared
:mod:`simtest.sim.ground_truth`, exactly as in the embedded simulator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtest.sim.base import CameraSpec
from simtest.sim.ground_truth import PathConfig, path_flags
from simtest.sim.carla.coords import actor_box_world, matrix_to_transform, world_boxes_to_ego
from simtest.sim.carla.decode import instance_ids
from simtest.sim.carla.visibility import SILHOUETTE_FILL, visible_fractions
from simtest.types import CLASSES, Lidar, Objects


@dataclass(frozen=True)
class EpisodeActor:
    """One actor at one frame: its CARLA id, class, bounding box and simtest-world poses
    now and at the previous frame (4x4)."""

    name: str
    actor_id: int
    cls: str
    bounding_box: Any
    T_world_from_actor: np.ndarray
    T_world_from_actor_before: np.ndarray


def _boxes(actors: Sequence[EpisodeActor], key: str) -> np.ndarray:
    if not actors:
        return np.zeros((0, 7))
    return np.stack([actor_box_world(matrix_to_transform(getattr(a, key)), a.bounding_box) for a in actors])


def frame_objects(
    actors: Sequence[EpisodeActor],
    T_world_from_ego: np.ndarray,
    span: float,
    *,
    cameras: Mapping[str, tuple[CameraSpec, Any]],
    lidars: Mapping[str, Lidar],
    ego_speed: float,
    ego_yaw_rate: float = 0.0,
    path: PathConfig = PathConfig(),
    fill: Mapping[str, float] = SILHOUETTE_FILL,
) -> Objects:
    """Objects of one frame in the ego frame.

    ``span`` is the time (s) since the previous frame, for velocities;
    ``cameras`` maps a camera name to its spec and its instance-segmentation
    image; ``lidars`` are the frame's lidars with per-point actor labels;
    ``ego_speed`` (m/s), ``ego_yaw_rate`` (rad/s) and ``path`` feed the shared
    in-path / critical flags.
    """
    ids = np.array([a.actor_id for a in actors], dtype=np.int64)
    labels = np.array([CLASSES.index(a.cls) for a in actors], dtype=np.int64)
    world_now = _boxes(actors, "T_world_from_actor")
    world_before = _boxes(actors, "T_world_from_actor_before")
    boxes = world_boxes_to_ego(world_now, T_world_from_ego)
    v_world = (world_now[:, :3] - world_before[:, :3]) / span if len(actors) else np.zeros((0, 3))
    velocities = (v_world @ T_world_from_ego[:3, :3])[:, :2]
    visible = np.zeros(len(actors))
    names = np.array([a.cls for a in actors], dtype=object)
    for spec, image in cameras.values():
        frac = visible_fractions(instance_ids(image), ids, names, boxes, spec.K(), spec.T_ego_from_cam(), fill)
        visible = np.maximum(visible, frac)
    counts = np.zeros(len(actors), dtype=np.int64)
    for lidar in lidars.values():
        if lidar.labels is not None and len(actors):
            counts += (np.asarray(lidar.labels)[:, None] == ids[None, :]).sum(axis=0)
    in_path, critical = path_flags(boxes, velocities, ego_speed, path, yaw_rate=ego_yaw_rate)
    return Objects(
        ids=ids,
        labels=labels,
        boxes=boxes,
        velocities=velocities,
        visible_fraction=visible,
        lidar_points=counts,
        in_path=in_path,
        critical=critical,
    )

