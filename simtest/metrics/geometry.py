"""Vectorised bird's-eye-view geometry for matching: rotated-rectangle IoU.

Boxes follow the simtest convention ``(x, y, z, length, width, height, yaw)`` in
the ego frame (metres, radians); only ``x, y, length, width, yaw`` matter here.
"""

from __future__ import annotations

import numpy as np

from simtest.types import bev_corners

_EPS = 1e-9


def _inside_convex(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """(P, K) mask: each of K points (P, K, 2) lies in the counter-clockwise quad (P, 4, 2), edges included."""
    a = poly
    b = np.roll(poly, -1, axis=1)
    edge = b - a  # (P, 4, 2)
    rel = points[:, :, None, :] - a[:, None, :, :]  # (P, K, 4, 2)
    cross = edge[:, None, :, 0] * rel[..., 1] - edge[:, None, :, 1] * rel[..., 0]
    scale = np.linalg.norm(edge, axis=-1)[:, None, :] + _EPS
    return (cross / scale >= -1e-7).all(axis=-1)


def _edge_intersections(pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All 16 edge-edge crossing points of two quads per pair: points (P, 16, 2) and validity (P, 16)."""
    a0 = pa[:, :, None, :]
    a1 = np.roll(pa, -1, axis=1)[:, :, None, :]
    b0 = pb[:, None, :, :]
    b1 = np.roll(pb, -1, axis=1)[:, None, :, :]
    r = a1 - a0  # (P, 4, 1, 2)
    s = b1 - b0  # (P, 1, 4, 2)
    denom = r[..., 0] * s[..., 1] - r[..., 1] * s[..., 0]  # (P, 4, 4)
    q = b0 - a0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (q[..., 0] * s[..., 1] - q[..., 1] * s[..., 0]) / denom
        u = (q[..., 0] * r[..., 1] - q[..., 1] * r[..., 0]) / denom
    ok = (np.abs(denom) > _EPS) & (t >= -1e-9) & (t <= 1 + 1e-9) & (u >= -1e-9) & (u <= 1 + 1e-9)
    pts = a0 + np.where(ok, t, 0.0)[..., None] * r
    n = len(pa)
    return pts.reshape(n, 16, 2), ok.reshape(n, 16)


def convex_quad_intersection_area(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Area (m^2) of the intersection of paired counter-clockwise quads ``pa``, ``pb`` of shape (P, 4, 2).

    The intersection of two convex polygons is convex and its vertices are the
    corners of one inside the other plus the edge crossings; they are ordered by
    angle about their centroid and the shoelace formula gives the area.
    """
    if len(pa) == 0:
        return np.zeros(0)
    cross_pts, cross_ok = _edge_intersections(pa, pb)
    pts = np.concatenate([pa, pb, cross_pts], axis=1)  # (P, 24, 2)
    ok = np.concatenate([_inside_convex(pa, pb), _inside_convex(pb, pa), cross_ok], axis=1)
    count = ok.sum(axis=1)
    centroid = (pts * ok[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    rel = pts - centroid[:, None, :]
    angle = np.where(ok, np.arctan2(rel[..., 1], rel[..., 0]), np.inf)
    order = np.argsort(angle, axis=1, kind="stable")
    pts = np.take_along_axis(pts, order[..., None], axis=1)
    ok = np.take_along_axis(ok, order, axis=1)
    # Invalid slots (sorted last) collapse onto the first vertex: zero-length edges close the ring.
    pts = np.where(ok[..., None], pts, pts[:, :1, :])
    nxt = np.roll(pts, -1, axis=1)
    area = 0.5 * np.abs((pts[..., 0] * nxt[..., 1] - pts[..., 1] * nxt[..., 0]).sum(axis=1))
    return np.where(count >= 3, area, 0.0)


def bev_iou_pairs(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """BEV IoU of row-aligned box pairs (P, 7) x (P, 7) -> (P,), rotated footprints."""
    boxes_a = np.asarray(boxes_a, dtype=np.float64)
    boxes_b = np.asarray(boxes_b, dtype=np.float64)
    if len(boxes_a) == 0:
        return np.zeros(0)
    inter = convex_quad_intersection_area(bev_corners(boxes_a), bev_corners(boxes_b))
    area_a = boxes_a[:, 3] * boxes_a[:, 4]
    area_b = boxes_b[:, 3] * boxes_b[:, 4]
    union = area_a + area_b - inter
    return np.clip(inter / np.maximum(union, _EPS), 0.0, 1.0)


def bev_iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """BEV IoU of every box in ``boxes_a`` (N, 7) with every box in ``boxes_b`` (M, 7) -> (N, M)."""
    n, m = len(boxes_a), len(boxes_b)
    ia, ib = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    return bev_iou_pairs(np.asarray(boxes_a)[ia], np.asarray(boxes_b)[ib]).reshape(n, m)
