"""Vectorised bird's-eye-view geometry for matching: rotated-rectangle IoU.

Boxes follow the simtest convention ``(x, y, z, length, width, height, yaw)`` in
the ego frame (metres, radians); only ``x, y, length, width, yaw`` matter here.

The intersection area of two convex polygons comes from Green's theorem: the
boundary of ``A ∩ B`` is made of the parts of A's edges inside B and the parts
of B's edges inside A, so ``area = 1/2 * sum(cross(p, q))`` over those clipped
segments. Each rectangle is axis-aligned in its own frame, so the clipping is
Liang–Barsky against a box: no vertex sorting, no per-pair loops. Edges lying
on a common line are counted once: a B edge on an A edge with the same
direction is dropped (it duplicates A's); with opposite directions both count
and cancel.
"""

from __future__ import annotations

import numpy as np

_TOL = 1e-9  # m: points closer than this to a line lie on it
_CHUNK = 1 << 16  # pairs per block (keeps temporaries in cache)


def _local(centre: np.ndarray, yaw: np.ndarray, frame_centre: np.ndarray, frame_yaw: np.ndarray,
           half_l: np.ndarray, half_w: np.ndarray) -> np.ndarray:
    """Corners (P, 4, 2) of rectangles (centre, yaw, half sizes) in another rectangle's local frame."""
    c, s = np.cos(frame_yaw), np.sin(frame_yaw)
    dx, dy = centre[:, 0] - frame_centre[:, 0], centre[:, 1] - frame_centre[:, 1]
    ox, oy = c * dx + s * dy, -s * dx + c * dy
    r = yaw - frame_yaw
    cr, sr = np.cos(r)[:, None], np.sin(r)[:, None]
    lx = half_l[:, None] * np.array([1.0, -1.0, -1.0, 1.0])
    ly = half_w[:, None] * np.array([1.0, 1.0, -1.0, -1.0])
    return np.stack([ox[:, None] + cr * lx - sr * ly, oy[:, None] + sr * lx + cr * ly], -1)


def _clip_to_box(p: np.ndarray, half_l: np.ndarray, half_w: np.ndarray, *, drop_same_direction: bool):
    """Liang–Barsky: parameter range [t0, t1] of each edge of quads ``p`` (P, 4, 2) inside the
    axis-aligned box ``|x| <= half_l, |y| <= half_w``; returns t0, t1 and a keep mask (P, 4).

    An edge lying on the box boundary is inside, unless ``drop_same_direction`` and it
    runs the same way as that (counter-clockwise) boundary edge.
    """
    d = np.roll(p, -1, axis=1) - p
    x0, y0, dx, dy = p[..., 0], p[..., 1], d[..., 0], d[..., 1]
    hl, hw = half_l[:, None], half_w[:, None]
    t0 = np.zeros(x0.shape)
    t1 = np.ones(x0.shape)
    keep = np.ones(x0.shape, bool)
    # Constraints p_i * t <= q_i for x >= -hl, x <= hl, y >= -hw, y <= hw; boundary directions -y, +y, +x, -x.
    for pi, qi, same in ((-dx, x0 + hl, dy < 0), (dx, hl - x0, dy > 0), (-dy, y0 + hw, dx > 0), (dy, hw - y0, dx < 0)):
        parallel = np.abs(pi) <= _TOL
        outside = qi < -_TOL
        if drop_same_direction:
            outside = outside | ((np.abs(qi) <= _TOL) & same)
        keep &= ~(parallel & outside)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = qi / np.where(parallel, 1.0, pi)
        t0 = np.where(~parallel & (pi < 0), np.maximum(t0, t), t0)
        t1 = np.where(~parallel & (pi > 0), np.minimum(t1, t), t1)
    return t0, t1, keep & (t1 > t0)


def _segment_cross(p: np.ndarray, t0: np.ndarray, t1: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Sum over kept edges of quads ``p`` of cross(start, end) of the part [t0, t1] of each edge."""
    d = np.roll(p, -1, axis=1) - p
    sx, sy = p[..., 0] + t0 * d[..., 0], p[..., 1] + t0 * d[..., 1]
    fx, fy = p[..., 0] + t1 * d[..., 0], p[..., 1] + t1 * d[..., 1]
    return np.where(keep, sx * fy - sy * fx, 0.0).sum(axis=-1)


def rect_intersection_area(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Area (m^2) of the BEV footprint intersection of row-aligned box pairs (P, 7) x (P, 7) -> (P,).

    Everything is expressed in B's local frame. A's edges are clipped to B there;
    B's edges are clipped to A in A's local frame (clip parameters do not depend on
    the frame) and then evaluated in B's frame, so one Green's-theorem sum closes.
    """
    out = np.empty(len(boxes_a))
    for lo in range(0, len(boxes_a), _CHUNK):
        a, b = boxes_a[lo : lo + _CHUNK], boxes_b[lo : lo + _CHUNK]
        ha, wa, hb, wb = a[:, 3] / 2, a[:, 4] / 2, b[:, 3] / 2, b[:, 4] / 2
        a_in_b = _local(a[:, :2], a[:, 6], b[:, :2], b[:, 6], ha, wa)
        b_in_a = _local(b[:, :2], b[:, 6], a[:, :2], a[:, 6], hb, wb)
        b_in_b = _local(b[:, :2], b[:, 6], b[:, :2], b[:, 6], hb, wb)
        twice = _segment_cross(a_in_b, *_clip_to_box(a_in_b, hb, wb, drop_same_direction=False))
        twice += _segment_cross(b_in_b, *_clip_to_box(b_in_a, ha, wa, drop_same_direction=True))
        out[lo : lo + _CHUNK] = np.maximum(0.5 * twice, 0.0)
    return out


def bev_iou_pairs(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """BEV IoU of row-aligned box pairs (P, 7) x (P, 7) -> (P,), rotated footprints."""
    boxes_a = np.asarray(boxes_a, dtype=np.float64)
    boxes_b = np.asarray(boxes_b, dtype=np.float64)
    if len(boxes_a) == 0:
        return np.zeros(0)
    inter = rect_intersection_area(boxes_a, boxes_b)
    area_a = boxes_a[:, 3] * boxes_a[:, 4]
    area_b = boxes_b[:, 3] * boxes_b[:, 4]
    union = area_a + area_b - inter
    return np.clip(inter / np.maximum(union, 1e-12), 0.0, 1.0)


def bev_iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """BEV IoU of every box in ``boxes_a`` (N, 7) with every box in ``boxes_b`` (M, 7) -> (N, M)."""
    n, m = len(boxes_a), len(boxes_b)
    ia, ib = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    return bev_iou_pairs(np.asarray(boxes_a)[ia], np.asarray(boxes_b)[ib]).reshape(n, m)
