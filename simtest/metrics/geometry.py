"""Vectorised bird's-eye-view geometry for matching: rotated-rectangle IoU.

Boxes follow the simtest convention ``(x, y, z, length, width, height, yaw)`` in
the ego frame (metres, radians); only ``x, y, length, width, yaw`` matter here.

The intersection area of two convex polygons comes from Green's theorem: the
boundary of ``A ∩ B`` is made of the parts of A's edges inside B and the parts
of B's edges inside A, so ``area = 1/2 * sum(cross(p, q))`` over those clipped
segments (Cyrus–Beck clipping against the other polygon's half-planes). No
vertex sorting is needed, so it vectorises well. Edges lying on a common line
are counted once: a B edge on an A edge with the same direction is dropped
(it duplicates A's), with opposite directions both count and cancel.
"""

from __future__ import annotations

import numpy as np

_TOL = 1e-9  # m: points closer than this to a line lie on it
_CHUNK = 1 << 16  # pairs per block (keeps temporaries in cache)


def bev_quads(boxes: np.ndarray) -> np.ndarray:
    """Footprint corners (N, 4, 2), counter-clockwise from front-left (same as ``types.bev_corners``)."""
    b = np.asarray(boxes, dtype=np.float64)
    c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
    hl, hw = b[:, 3] / 2, b[:, 4] / 2
    sx = np.array([1.0, -1.0, -1.0, 1.0])
    sy = np.array([1.0, 1.0, -1.0, -1.0])
    lx, ly = hl[:, None] * sx, hw[:, None] * sy
    return np.stack([b[:, :1] + c[:, None] * lx - s[:, None] * ly, b[:, 1:2] + s[:, None] * lx + c[:, None] * ly], -1)


def _clipped_edge_sum(p: np.ndarray, q: np.ndarray, *, drop_same_direction: bool) -> np.ndarray:
    """Sum over the edges of quads ``p`` (P, 4, 2) of cross(start, end) of their part inside quads ``q``."""
    a = p[:, :, None, :]  # edge starts (P, 4, 1, 2)
    d = (np.roll(p, -1, axis=1) - p)[:, :, None, :]  # edge vectors
    qa = q[:, None, :, :]  # half-plane anchors (P, 1, 4, 2)
    e = np.roll(q, -1, axis=1) - q
    e = (e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-300))[:, None, :, :]  # unit edges
    rel = a - qa
    num = e[..., 0] * rel[..., 1] - e[..., 1] * rel[..., 0]  # signed distance of the start (P, 4, 4)
    den = e[..., 0] * d[..., 1] - e[..., 1] * d[..., 0]  # rate of change along the edge
    parallel = np.abs(den) <= _TOL
    on_line = parallel & (np.abs(num) <= _TOL)
    if drop_same_direction:
        same = (e[..., 0] * d[..., 0] + e[..., 1] * d[..., 1]) > 0
        outside = parallel & ((num < -_TOL) | (on_line & same))
    else:
        outside = parallel & (num < -_TOL)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(parallel, 0.0, -num / np.where(parallel, 1.0, den))
    t0 = np.max(np.where(~parallel & (den > 0), t, 0.0), axis=-1).clip(0.0, 1.0)
    t1 = np.min(np.where(~parallel & (den < 0), t, 1.0), axis=-1).clip(0.0, 1.0)
    keep = (t1 > t0) & ~outside.any(axis=-1)
    a, d = a[:, :, 0, :], d[:, :, 0, :]
    s = a + t0[..., None] * d
    f = a + t1[..., None] * d
    cross = s[..., 0] * f[..., 1] - s[..., 1] * f[..., 0]
    return np.where(keep, cross, 0.0).sum(axis=-1)


def convex_quad_intersection_area(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Area (m^2) of the intersection of paired counter-clockwise convex quads (P, 4, 2) -> (P,)."""
    out = np.empty(len(pa))
    for lo in range(0, len(pa), _CHUNK):
        a, b = pa[lo : lo + _CHUNK], pb[lo : lo + _CHUNK]
        centre = a.mean(axis=1, keepdims=True)  # work near the origin for accuracy
        a, b = a - centre, b - centre
        twice = _clipped_edge_sum(a, b, drop_same_direction=False) + _clipped_edge_sum(b, a, drop_same_direction=True)
        out[lo : lo + _CHUNK] = np.maximum(0.5 * twice, 0.0)
    return out


def bev_iou_pairs(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """BEV IoU of row-aligned box pairs (P, 7) x (P, 7) -> (P,), rotated footprints."""
    boxes_a = np.asarray(boxes_a, dtype=np.float64)
    boxes_b = np.asarray(boxes_b, dtype=np.float64)
    if len(boxes_a) == 0:
        return np.zeros(0)
    inter = convex_quad_intersection_area(bev_quads(boxes_a), bev_quads(boxes_b))
    area_a = boxes_a[:, 3] * boxes_a[:, 4]
    area_b = boxes_b[:, 3] * boxes_b[:, 4]
    union = area_a + area_b - inter
    return np.clip(inter / np.maximum(union, 1e-12), 0.0, 1.0)


def bev_iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """BEV IoU of every box in ``boxes_a`` (N, 7) with every box in ``boxes_b`` (M, 7) -> (N, M)."""
    n, m = len(boxes_a), len(boxes_b)
    ia, ib = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    return bev_iou_pairs(np.asarray(boxes_a)[ia], np.asarray(boxes_b)[ib]).reshape(n, m)
