"""Visible fraction of each object from an instance-segmentation camera.

The instance camera sits exactly where the RGB camera sits, so its pixels that
carry an actor's id are the actor's visible pixels in the RGB image. The
pixels the actor *would* cover unoccluded are estimated from its box: the area
of the box's projected convex hull (clipped to the near plane and the image)
times the class's silhouette fill factor (how much of that hull the body
covers: a car fills most of it, a walking person much less). The fraction is
``min(1, visible / (hull_area x fill))`` and 0 for an object outside the image.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from simtest.types import box_corners, invert_transform, transform_points

SILHOUETTE_FILL: dict[str, float] = {"vehicle": 0.8, "pedestrian": 0.45, "cyclist": 0.5}
"""Default fraction of the projected box hull an unoccluded object of each class covers."""

NEAR = 0.05
"""Near clipping plane (m) for box edges behind the camera."""

# The 12 edges of box_corners' ordering (bottom 0-3, top 4-7).
_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]])


def _clipped_corners(corners_cam: np.ndarray) -> np.ndarray:
    """Box corners in front of the near plane plus the edges' crossings of it (M, 3)."""
    front = corners_cam[corners_cam[:, 2] >= NEAR]
    a, b = corners_cam[_EDGES[:, 0]], corners_cam[_EDGES[:, 1]]
    crosses = (a[:, 2] - NEAR) * (b[:, 2] - NEAR) < 0
    t = (NEAR - a[crosses, 2]) / (b[crosses, 2] - a[crosses, 2])
    cut = a[crosses] + t[:, None] * (b[crosses] - a[crosses])
    return np.concatenate([front, cut])


def hull_areas(boxes_ego: np.ndarray, K: np.ndarray, T_ego_from_cam: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area (px^2) of each box's projected convex hull inside the image (N,)."""
    out = np.zeros(len(boxes_ego), dtype=np.float64)
    if len(boxes_ego) == 0:
        return out
    T_cam_from_ego = invert_transform(T_ego_from_cam)
    corners = transform_points(T_cam_from_ego, box_corners(boxes_ego).reshape(-1, 3)).reshape(-1, 8, 3)
    image = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    for i, c in enumerate(corners):
        pts = _clipped_corners(c)
        if len(pts) < 3:
            continue
        uv = (pts @ K.T)[:, :2] / pts[:, 2:3]
        # Keep coordinates in a range OpenCV handles; far-off points only widen the hull off-image.
        uv = np.clip(uv, -8.0 * (width + height), 8.0 * (width + height)).astype(np.float32)
        hull = cv2.convexHull(uv)
        if cv2.contourArea(hull) <= 0:
            continue
        out[i] = cv2.intersectConvexConvex(hull, image)[0]
    return out


def visible_fractions(
    ids_image: np.ndarray,
    object_ids: np.ndarray,
    class_names: np.ndarray,
    boxes_ego: np.ndarray,
    K: np.ndarray,
    T_ego_from_cam: np.ndarray,
    fill: Mapping[str, float] = SILHOUETTE_FILL,
) -> np.ndarray:
    """Visible fraction (0..1) of each object in one instance camera.

    ``ids_image`` holds actor ids modulo 65536 (see decode.instance_ids);
    ``object_ids`` the actors' ids; ``class_names`` each object's class name.
    """
    h, w = ids_image.shape
    counts = np.bincount(ids_image.ravel(), minlength=65536)
    visible = counts[np.asarray(object_ids, dtype=np.int64) & 0xFFFF]
    expected = hull_areas(boxes_ego, K, T_ego_from_cam, w, h) * np.array([fill[c] for c in class_names], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(expected > 0, visible / expected, 0.0)
    return np.clip(frac, 0.0, 1.0)
