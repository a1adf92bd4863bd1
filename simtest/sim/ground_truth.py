"""In-ego-path and safety-critical flags, shared by every simulator backend.

Inputs are in the ego frame (x forward, y left, metres): boxes (N, 7), object
velocities over ground (N, 2, m/s, expressed in the ego frame), the ego's speed
(m/s) and yaw rate (rad/s).

*In path*: the object's footprint overlaps the ego's corridor, a band of
``half_width`` metres either side of the ego's future path (an arc of
curvature ``yaw_rate / speed``) from the ego's front to ``path_length`` metres
ahead.

*Safety-critical*: the object is in, or will enter, the part of the corridor
the ego needs to stop: ``D = v t_react + v^2 / (2 a_brake) + margin``. Entering
is checked by moving the footprint with its velocity over the ego's stopping
time ``t_react + v / a_brake`` (at least ``min_horizon``) and testing the
corridor (up to ``D``) at each time sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from simtest.types import bev_corners


@dataclass(frozen=True)
class PathConfig:
    """Corridor and stopping-envelope parameters (metres, seconds, m/s^2)."""

    half_width: float = 1.5
    path_length: float = 60.0
    front_offset: float = 0.0
    t_react: float = 1.0
    a_brake: float = 6.0
    margin: float = 2.0
    min_horizon: float = 1.0
    time_samples: int = 11

    def __post_init__(self) -> None:
        for name in ("half_width", "path_length", "t_react", "a_brake", "min_horizon"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"ground_truth.{name}: must be a positive number, got {v!r}")
        if self.margin < 0:
            raise ValueError(f"ground_truth.margin: must be >= 0 metres, got {self.margin}")
        if self.time_samples < 2:
            raise ValueError(f"ground_truth.time_samples: need at least 2, got {self.time_samples}")

    @classmethod
    def from_mapping(cls, data: dict | None, *, where: str = "ground_truth") -> PathConfig:
        """Build from a config mapping; unknown keys name the key and list the known ones."""
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**data)


def stopping_distance(speed: float, config: PathConfig = PathConfig()) -> float:
    """Stopping envelope ``v t_react + v^2 / (2 a_brake) + margin`` (m) for ``speed`` m/s."""
    v = max(float(speed), 0.0)
    return v * config.t_react + v * v / (2 * config.a_brake) + config.margin


@nb.njit(cache=True)
def _overlaps(corners, curvature, s_max, front, hw):  # noqa: ANN001, ANN201 - numba kernel
    """Whether each footprint (M, 4, 2) overlaps the corridor [front, s_max] x [-hw, hw] along a path
    of constant ``curvature`` through the origin.

    The corners are mapped into path coordinates (arc length along, signed offset from the path;
    the circle's centre is at (0, 1/curvature)), then tested by separating axes: the corridor's
    axes, then the footprint's two edge directions, onto which the corridor rectangle (centre c,
    half sizes h) projects as ``c . a +- (h_s |a_s| + h_o |a_o|)``. Exact for a straight path;
    accurate for footprints small against the radius on a curved one.
    """
    m = corners.shape[0]
    out = np.zeros(m, np.bool_)
    s = np.empty(4)
    off = np.empty(4)
    straight = abs(curvature) < 1e-6
    r = 0.0 if straight else 1.0 / curvature
    sign = 1.0 if r >= 0 else -1.0
    centre, half = 0.5 * (front + s_max), 0.5 * (s_max - front)
    for i in range(m):
        for k in range(4):
            x, y = corners[i, k, 0], corners[i, k, 1]
            if straight:
                s[k], off[k] = x, y
            else:
                dy = y - r
                s[k] = math.atan2(x, -dy * sign) * abs(r)
                off[k] = (abs(r) - math.hypot(x, dy)) * sign
        if s.max() < front or s.min() > s_max or off.max() < -hw or off.min() > hw:
            continue
        separated = False
        for k in range(2):
            a_s, a_o = s[k + 1] - s[k], off[k + 1] - off[k]
            norm = max(math.hypot(a_s, a_o), 1e-9)
            a_s, a_o = a_s / norm, a_o / norm
            lo, hi = np.inf, -np.inf
            for q in range(4):
                p = s[q] * a_s + off[q] * a_o
                lo, hi = min(lo, p), max(hi, p)
            mid, reach = centre * a_s, half * abs(a_s) + hw * abs(a_o)
            if hi < mid - reach or mid + reach < lo:
                separated = True
        out[i] = not separated
    return out


def path_flags(
    boxes: np.ndarray,
    velocities: np.ndarray,
    ego_speed: float,
    config: PathConfig = PathConfig(),
    *,
    yaw_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(in_path, critical)`` boolean arrays (N,) for boxes and velocities in the ego frame."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    n = len(boxes)
    if n == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    vel = np.asarray(velocities, np.float64).reshape(n, 2)
    v = max(float(ego_speed), 0.0)
    curvature = yaw_rate / v if v > 0.5 else 0.0
    corners = np.ascontiguousarray(bev_corners(boxes))  # (N, 4, 2)
    front, hw = float(config.front_offset), float(config.half_width)
    in_path = _overlaps(corners, curvature, float(config.path_length), front, hw)
    horizon = max(config.t_react + v / config.a_brake, config.min_horizon)
    envelope = stopping_distance(v, config)
    taus = horizon * np.arange(config.time_samples) / (config.time_samples - 1)
    moved = corners[None, :, :, :] + taus[:, None, None, None] * vel[None, :, None, :]  # (T, N, 4, 2)
    critical = _overlaps(moved.reshape(-1, 4, 2), curvature, envelope, front, hw).reshape(-1, n).any(axis=0)
    return in_path, critical
