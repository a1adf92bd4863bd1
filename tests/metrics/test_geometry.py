"""BEV IoU against an independent polygon-clipping reference, including touching and collinear boxes."""

from __future__ import annotations

import numpy as np
import pytest

from simtest.metrics.geometry import bev_iou_pairs, rect_intersection_area
from simtest.types import bev_corners


def _clip(subject: list[tuple[float, float]], clip: np.ndarray) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: clip a polygon by the counter-clockwise convex polygon ``clip``."""
    out = subject
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]

        def inside(p):
            return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0

        def cut(p, q):
            x1, y1, x2, y2 = p[0], p[1], q[0], q[1]
            den = (x1 - x2) * (a[1] - b[1]) - (y1 - y2) * (a[0] - b[0])
            t = ((x1 - a[0]) * (a[1] - b[1]) - (y1 - a[1]) * (a[0] - b[0])) / den
            return (x1 + t * (x2 - x1), y1 + t * (y2 - y1))

        src, out = out, []
        for j, p in enumerate(src):
            prev = src[j - 1]
            if inside(p):
                if not inside(prev):
                    out.append(cut(prev, p))
                out.append(p)
            elif inside(prev):
                out.append(cut(prev, p))
        if not out:
            return []
    return out


def _reference_iou(a: np.ndarray, b: np.ndarray) -> float:
    pa, pb = bev_corners(a[None])[0], bev_corners(b[None])[0]
    poly = _clip([tuple(p) for p in pa], pb)
    inter = 0.0
    for i in range(len(poly)):
        (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % len(poly)]
        inter += 0.5 * (x1 * y2 - x2 * y1)
    union = a[3] * a[4] + b[3] * b[4] - inter
    return inter / union


def test_random_pairs_match_reference_clipping():
    rng = np.random.default_rng(1)
    n = 400
    a = np.c_[rng.uniform(-2, 2, (n, 2)), np.zeros(n), rng.uniform(0.5, 5, (n, 2)), np.ones(n), rng.uniform(-4, 4, n)]
    b = a.copy()
    b[:, :2] += rng.normal(0, 1.0, (n, 2))
    b[:, 3:5] *= rng.uniform(0.6, 1.4, (n, 2))
    b[:, 6] += rng.choice([0.0, np.pi / 2, rng.normal()], n)
    got = bev_iou_pairs(a, b)
    ref = np.array([_reference_iou(a[i], b[i]) for i in range(n)])
    np.testing.assert_allclose(got, ref, atol=1e-9)
    assert (got > 0).sum() > n // 2  # most pairs overlap: the test is not vacuous


@pytest.mark.parametrize(
    ("b", "iou"),
    [
        ([0, 0, 0, 4, 2, 1, 0], 1.0),  # identical: every edge collinear with the same direction
        ([1, 0, 0, 4, 2, 1, 0], 6 / 10),  # shifted along the heading: top and bottom edges collinear
        ([0, 0.5, 0, 4, 2, 1, 0], 6 / 10),  # shifted across
        ([4, 0, 0, 4, 2, 1, 0], 0.0),  # touching end to end
        ([0, 2, 0, 4, 2, 1, 0], 0.0),  # touching side by side
        ([0, 0, 0, 4, 2, 1, np.pi], 1.0),  # turned around: same footprint, opposite edge directions
        ([0, 0, 0, 2, 1, 1, 0], 2 / 8),  # inside, sharing no edge
        ([-1, 0, 0, 2, 2, 1, 0], 4 / 8),  # inside, sharing three edge lines
    ],
)
def test_degenerate_and_collinear_cases(b, iou):
    a = np.array([[0, 0, 0, 4, 2, 1, 0.3]])
    b = np.array([b], float)
    # Rotate both boxes about the origin by 0.3 rad so nothing is axis-aligned.
    c, s = np.cos(0.3), np.sin(0.3)
    b[:, :2] = b[:, :2] @ np.array([[c, s], [-s, c]])
    b[:, 6] += 0.3
    assert bev_iou_pairs(a, b)[0] == pytest.approx(iou, abs=1e-9)


def test_intersection_area_by_hand():
    a = np.array([[0, 0, 0, 4, 2, 1, 0.0], [0, 0, 0, 2, 2, 1, 0.0]])
    b = np.array([[1, 0.5, 0, 4, 2, 1, 0.0], [0, 0, 0, 2, 2, 1, np.pi / 4]])
    # 3 x 1.5 overlap; square and its 45-degree turn: 4 - 4 (sqrt2 - 1)^2.
    np.testing.assert_allclose(rect_intersection_area(a, b), [4.5, 4 - 4 * (np.sqrt(2) - 1) ** 2], atol=1e-12)
