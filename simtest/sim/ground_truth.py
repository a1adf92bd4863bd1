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

from dataclasses import dataclass

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


def _path_frame(xy: np.ndarray, curvature: float) -> tuple[np.ndarray, np.ndarray]:
    """Arc length along and signed offset from a path of constant ``curvature`` through the origin."""
    x, y = xy[..., 0], xy[..., 1]
    if abs(curvature) < 1e-6:
        return x, y
    r = 1.0 / curvature
    # circle centred at (0, r)
    dx, dy = x, y - r
    rho = np.hypot(dx, dy)
    ang = np.arctan2(dx, -dy * np.sign(r))
    return ang * abs(r), (abs(r) - rho) * np.sign(r)


def _overlaps(corners: np.ndarray, curvature: float, s_max: float, config: PathConfig) -> np.ndarray:
    """Whether each footprint (..., 4, 2) overlaps the corridor [front_offset, s_max] x [-hw, hw].

    Exact for a straight path (separating axes); on a curved path the corners are
    mapped into path coordinates first (accurate for footprints small against the radius).
    """
    s, off = _path_frame(corners, curvature)
    lo_s, hi_s = s.min(-1), s.max(-1)
    lo_o, hi_o = off.min(-1), off.max(-1)
    hw = config.half_width
    aabb = (hi_s >= config.front_offset) & (lo_s <= s_max) & (hi_o >= -hw) & (lo_o <= hw)
    # the footprint's own axes: project the corridor rectangle on them
    rect = np.array([[config.front_offset, -hw], [s_max, -hw], [s_max, hw], [config.front_offset, hw]])
    pts = np.stack([s, off], -1)
    sep = np.zeros(aabb.shape, bool)
    for k in (0, 1):
        axis = pts[..., k + 1, :] - pts[..., k, :]
        axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
        proj_box = np.einsum("...ij,...j->...i", pts, axis)
        proj_rect = np.einsum("ij,...j->...i", rect, axis)
        sep |= (proj_box.max(-1) < proj_rect.min(-1)) | (proj_rect.max(-1) < proj_box.min(-1))
    return aabb & ~sep


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
    corners = bev_corners(boxes)  # (N, 4, 2)
    in_path = _overlaps(corners, curvature, config.path_length, config)
    horizon = max(config.t_react + v / config.a_brake, config.min_horizon)
    envelope = stopping_distance(v, config)
    taus = np.linspace(0.0, horizon, config.time_samples)
    moved = corners[None, :, :, :] + taus[:, None, None, None] * vel[None, :, None, :]  # (T, N, 4, 2)
    critical = _overlaps(moved, curvature, envelope, config).any(axis=0)
    return in_path, critical
