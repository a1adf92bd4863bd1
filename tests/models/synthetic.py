"""Synthetic frames for model tests: boxes rendered as lidar point clusters on a flat ground."""

from __future__ import annotations

import numpy as np

from simtest.sim.base import CameraSpec, LidarSpec
from simtest.types import Camera, EgoState, Frame, Lidar, Objects


def box_surface_points(box: np.ndarray, spacing: float = 0.1) -> np.ndarray:
    """Points (N x 3, ego frame) on the four side faces and the top of a box, ``spacing`` metres apart."""
    x, y, z, l, w, h, yaw = box
    pts = []
    for u in np.arange(-l / 2, l / 2 + 1e-9, spacing):
        for v in np.arange(-h / 2, h / 2 + 1e-9, spacing):
            pts += [(u, -w / 2, v), (u, w / 2, v)]
    for u in np.arange(-w / 2, w / 2 + 1e-9, spacing):
        for v in np.arange(-h / 2, h / 2 + 1e-9, spacing):
            pts += [(-l / 2, u, v), (l / 2, u, v)]
    local = np.asarray(pts)
    c, s = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return local @ R.T + np.array([x, y, z])


def synthetic_frame(boxes: np.ndarray, labels: np.ndarray, *, ground: bool = True, camera: bool = True) -> Frame:
    """A frame whose lidar sees ``boxes`` (ego frame) as dense point clusters, with a gray camera image."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    clouds = [box_surface_points(b) for b in boxes]
    if ground:
        gx, gy = np.meshgrid(np.arange(-30, 50, 0.7), np.arange(-30, 30, 0.7))
        clouds.append(np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)]))
    xyz = np.concatenate(clouds) if clouds else np.zeros((0, 3))
    pts = np.column_stack([xyz, np.full(len(xyz), 0.5)]).astype(np.float32)
    spec = LidarSpec()
    lidar = Lidar(points=pts, ring=np.zeros(len(pts), np.int32), T_ego_from_lidar=spec.mount.T_ego_from_sensor())
    cams = {}
    if camera:
        cs = CameraSpec()
        cams["front"] = Camera(image=np.full((cs.height, cs.width, 3), 128, np.uint8), K=cs.K(), T_ego_from_cam=cs.T_ego_from_cam())
    inside = np.array([len(c) for c in clouds[: len(boxes)]], np.int64)
    objects = Objects(ids=np.arange(len(boxes)), labels=np.asarray(labels, np.int64), boxes=boxes, lidar_points=inside)
    return Frame(index=0, timestamp=0.0, ego=EgoState(), cameras=cams, lidars={"top": lidar}, objects=objects)

