"""Ego-motion distortion: the sweep is left uncompensated for the ego's motion.

A spinning lidar measures each azimuth at a different time. As spinning lidars
(and the embedded simulator) do, the sweep turns clockwise seen from above,
from straight behind (azimuth +pi) at ``t = -T`` through the front (azimuth 0,
``t = -T/2``) back to behind (azimuth -pi) at ``t = 0``: ``t = -T (pi + az) / (2 pi)``
with ``T`` the sweep period. The input scan is taken to be motion-compensated to
the ego pose at ``t = 0``. An uncompensated sensor reports a point measured at
time ``t`` in the ego frame of that instant. With constant forward speed ``v`` and
yaw rate ``w`` the ego pose at ``t`` relative to ``t = 0`` is yaw ``psi = w t``
and position ``(v sin(psi) / w, v (1 - cos(psi)) / w)`` (``(v t, 0)`` when
``w = 0``), so the reported point is ``R(-psi) (p - position)``. Example: a
point straight ahead (azimuth 0, ``t = -T/2``) at ``v = 10`` m/s, ``T = 0.1`` s,
``w = 0`` appears 0.5 m farther ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perturbations.lidar import severities as sev
from perturbations.lidar.checks import lidar_kernel
from perturbations.lidar.rays import azimuth
from perturbations.lidar.scan import Scan
from perturbations.registry import perturbation, severity_value
from perturbations.xp import namespace

SWEEP_PERIOD_S = 0.1  # 10 Hz spinning lidar


@dataclass(frozen=True)
class MotionParams:
    """Uncompensated ego motion: forward speed (m/s), yaw rate (rad/s, ccw) and sweep period (s)."""

    speed: float
    yaw_rate: float
    sweep_period: float = SWEEP_PERIOD_S


def apply_motion_distortion(scan: Scan, params: MotionParams) -> Scan:
    """Distort the scan as an uncompensated sensor would report it (see module docstring)."""
    if params.speed == 0 and params.yaw_rate == 0:
        return scan
    xp = namespace(scan.points)
    p = scan.points
    period = params.sweep_period
    t = azimuth(scan) * (-period / (2 * math.pi)) - 0.5 * period  # clockwise: -T at az = +pi, 0 at -pi
    out = xp.asarray(p, copy=True)  # z and intensity kept; x and y rewritten in place
    if params.yaw_rate == 0:  # psi = 0: a pure shift by the distance driven
        out[:, 0] -= params.speed * t
        return scan.with_points(out)
    psi = params.yaw_rate * t
    c, s = xp.cos(psi), xp.sin(psi)
    turn = params.speed / params.yaw_rate  # turning radius (m)
    qx = p[:, 0] - turn * s
    qy = p[:, 1] - turn * (1.0 - c)
    out[:, 0] = c * qx + s * qy
    out[:, 1] = c * qy - s * qx
    return scan.with_points(out)


@perturbation("lidar_motion_distortion", kind="lidar", apply=lidar_kernel(apply_motion_distortion))
def sample_motion_distortion(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> MotionParams:
    """Ego-motion distortion at the tabulated speed and yaw rate (turn direction drawn at random)."""
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return MotionParams(
        speed=float(severity_value(sev.EGO_SPEED_MPS, severity, 0.0)),
        yaw_rate=sign * float(severity_value(sev.EGO_YAW_RATE, severity, 0.0)),
    )
