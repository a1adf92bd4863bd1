"""Ray geometry shared by the lidar kernels: ranges, azimuth sectors, moves along a ray.

All functions use only the array module of the scan's points (Array API), so they
run unchanged on NumPy, CuPy and ``array_api_strict``. Azimuth is measured in the
ego frame about the sensor origin, counter-clockwise from +x (forward), in radians.
"""

from __future__ import annotations

import math
from typing import Any

from perturbations.lidar.scan import Scan
from perturbations.xp import namespace


def offsets(scan: Scan) -> tuple[Any, Any, Any]:
    """Components (dx, dy, dz) of each point relative to the sensor origin (m)."""
    ox, oy, oz = (float(c) for c in scan.origin)
    p = scan.points
    return p[:, 0] - ox, p[:, 1] - oy, p[:, 2] - oz


def ranges(scan: Scan) -> Any:
    """Range of each point from the sensor origin (m)."""
    xp = namespace(scan.points)
    dx, dy, dz = offsets(scan)
    return xp.sqrt(dx * dx + dy * dy + dz * dz)


def in_sector(scan: Scan, start: float, width: float) -> Any:
    """Boolean mask of points whose azimuth lies in ``[start, start + width]`` (radians, ccw).

    Uses two half-plane tests instead of ``atan2``: a point is inside a sector of
    width <= pi when it is left of the start edge and right of the end edge; a
    wider sector is the union of those half-planes.
    """
    if not 0.0 <= width <= 2 * math.pi:
        raise ValueError(f"in_sector: width must lie in [0, 2 pi] radians, got {width}")
    xp = namespace(scan.points)
    dx, dy, _ = offsets(scan)
    if width >= 2 * math.pi:
        return xp.ones(dx.shape, dtype=xp.bool)
    c0, s0 = math.cos(start), math.sin(start)
    c1, s1 = math.cos(start + width), math.sin(start + width)
    left_of_start = c0 * dy - s0 * dx >= 0
    right_of_end = c1 * dy - s1 * dx <= 0
    return (left_of_start & right_of_end) if width <= math.pi else (left_of_start | right_of_end)


# atan(z) = z (1 + a2 z^2 + ... + a16 z^16) on [0, 1], |error| <= 2e-8 rad
# (Abramowitz & Stegun 4.4.49); float32 evaluation keeps the error below 1e-6 rad.
_ATAN_COEFFS = (
    0.0028662257, -0.0161657367, 0.0429096138, -0.0752896400,
    0.1065626393, -0.1420889944, 0.1999355085, -0.3333314528, 1.0,
)


def azimuth(scan: Scan) -> Any:
    """Azimuth of each point about the sensor, in (-pi, pi] rad counter-clockwise from +x.

    A polynomial ``atan2`` (octant reduction plus Abramowitz & Stegun 4.4.49),
    accurate to 1e-6 rad and several times faster than the libm call here.
    """
    xp = namespace(scan.points)
    dx, dy, _ = offsets(scan)
    ax, ay = xp.abs(dx), xp.abs(dy)
    big = xp.maximum(ax, ay)
    z = xp.minimum(ax, ay) / xp.where(big > 0, big, xp.ones_like(big))
    z2 = z * z
    poly = xp.full_like(z, _ATAN_COEFFS[0])
    for c in _ATAN_COEFFS[1:]:
        poly = poly * z2 + c
    a = z * poly
    a = xp.where(ay > ax, math.pi / 2 - a, a)
    a = xp.where(dx < 0, math.pi - a, a)
    return xp.where(dy < 0, -a, a)


def with_columns(scan: Scan, x: Any, y: Any, z: Any, intensity: Any | None = None) -> Scan:
    """The scan with new x, y, z (and optionally intensity) columns, cast to the points' dtype."""
    xp = namespace(scan.points)
    i = scan.points[:, 3] if intensity is None else intensity
    return scan.with_points(xp.astype(xp.stack([x, y, z, i], axis=1), scan.points.dtype))


def move_along_ray(scan: Scan, mask: Any, new_range: Any, intensity: Any | None = None, r: Any | None = None) -> Any:
    """Points where the masked ones sit at ``new_range`` on their own ray (optionally new intensity).

    ``r`` may pass the points' ranges when the caller has them. Returns the new
    N x 4 points array (the input's dtype); unmasked points are unchanged.
    """
    xp = namespace(scan.points)
    p = scan.points
    dx, dy, dz = offsets(scan)
    if r is None:
        r = xp.sqrt(dx * dx + dy * dy + dz * dz)
    scale = xp.where(mask, new_range, r) / xp.where(r > 0, r, xp.ones_like(r))
    cols = [
        xp.where(mask, float(o) + d * scale, p[:, i]) for i, (o, d) in enumerate(zip(scan.origin, (dx, dy, dz)))
    ]
    cols.append(p[:, 3] if intensity is None else xp.where(mask, intensity, p[:, 3]))
    return xp.astype(xp.stack(cols, axis=1), p.dtype)
