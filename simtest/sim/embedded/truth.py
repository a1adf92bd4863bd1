"""Ground truth of one embedded frame: boxes, visible fractions, lidar counts, path flags.

*Visible fraction* (per camera, the largest over cameras): the pixels whose
first hit is the actor, over the pixels whose rays would cross the actor if
nothing else were there (listing every intersection along the pixel rays
over the actor's projected box). Both counts come from the same
pixel rays, so the fraction is exact up to pixel sampling.

*Lidar points*: returns whose ray hit the actor (weather echoes and lost returns
do not count).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simtest.scenario import ActorSpec
from simtest.sim.embedded import kernels
from simtest.sim.embedded.camera import CameraRender, CameraRenderer
from simtest.sim.embedded.scene import FrameScene
from simtest.sim.ground_truth import PathConfig, path_flags
from simtest.types import CLASSES, Objects, box_corners, project_points


def actor_ids(actors: Sequence[ActorSpec]) -> np.ndarray:
    """Stable object ids of an episode's actors: 1, 2, ... in scenario order."""
    return np.arange(1, len(actors) + 1, dtype=np.int64)


def _pixel_boxes(renderer: CameraRenderer, boxes_ego: np.ndarray) -> list[tuple[int, int, int, int] | None]:
    """Image rectangle (u0, v0, u1, v1) covering each projected box, None when behind or outside."""
    spec = renderer.spec
    uv, z = project_points(renderer.K, renderer.T_ego_from_cam, box_corners(boxes_ego))  # (N, 8, 2), (N, 8)
    front = z > 0.05
    with np.errstate(invalid="ignore"):
        lo = np.floor(uv.min(1))
        hi = np.ceil(uv.max(1)) + 1
    out: list[tuple[int, int, int, int] | None] = []
    for i in range(len(boxes_ego)):
        if not front[i].any():
            out.append(None)
        elif not front[i].all():  # box straddles the image plane: take the whole image
            out.append((0, 0, spec.width, spec.height))
        else:
            u0, v0 = max(int(lo[i, 0]), 0), max(int(lo[i, 1]), 0)
            u1, v1 = min(int(hi[i, 0]), spec.width), min(int(hi[i, 1]), spec.height)
            out.append((u0, v0, u1, v1) if u1 > u0 and v1 > v0 else None)
    return out


def visible_fractions(renderer: CameraRenderer, render: CameraRender, scene: FrameScene, boxes_ego: np.ndarray) -> np.ndarray:
    """Visible fraction (N,) of each actor in one camera (0 when outside the view)."""
    n = len(boxes_ego)
    visible = kernels.actor_pixel_counts(render.actor, n)
    rects = _pixel_boxes(renderer, boxes_ego)
    w = renderer.spec.width
    mask = np.zeros((renderer.spec.height, w), bool)
    for r in rects:
        if r is not None:
            mask[r[1]:r[3], r[0]:r[2]] = True
    pix = np.flatnonzero(mask)
    if not len(pix):
        return np.zeros(n)
    full = scene.unoccluded_actor_counts(render.rays.take(pix, axis=0), n)
    # a handful of actors: Python floats (the same IEEE quotients) instead of five array passes
    return np.array([min(v / f, 1.0) if f > 0 else 0.0 for v, f in zip(visible.tolist(), full.tolist())])


def frame_objects(
    actors: Sequence[ActorSpec],
    boxes: np.ndarray,
    velocities_world: np.ndarray,
    T_world_from_ego: np.ndarray,
    ego_speed: float,
    yaw_rate: float,
    visible: np.ndarray,
    lidar_counts: np.ndarray,
    config: PathConfig,
) -> Objects:
    """Objects of one frame in the ego frame, from their ``boxes`` (N, 7) already in it."""
    n = len(actors)
    vel = velocities_world @ T_world_from_ego[:2, :2] if n else np.zeros((0, 2))
    in_path, critical = path_flags(boxes, vel, ego_speed, config, yaw_rate=yaw_rate)
    return Objects(
        ids=actor_ids(actors),
        labels=np.array([CLASSES.index(a.cls) for a in actors], np.int64),
        boxes=boxes,
        velocities=np.asarray(vel, np.float64).reshape(n, 2),
        visible_fraction=np.asarray(visible, np.float64),
        lidar_points=np.asarray(lidar_counts, np.int64),
        in_path=in_path,
        critical=critical,
    )
