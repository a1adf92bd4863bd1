"""Incomplete echo: dark, glossy object surfaces return too little light.

Black car paint and dark clothes absorb the near-infrared pulse or mirror it away,
so a share of an object's returns is lost while the background stays intact.
When the scan carries per-point labels (object id >= 0) only object returns are
affected. Without labels the objects are unknown: every return more than
``ABOVE_GROUND_M`` above the road plane (z = 0 in the ego frame, as both
simulators produce) is treated as a candidate, which also thins walls and
vegetation; pass labels for the faithful version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perturbations.lidar import severities as sev
from perturbations.lidar.checks import lidar_kernel
from perturbations.lidar.scan import Scan
from perturbations.registry import perturbation, severity_value
from perturbations.xp import draw_seed, noise

ABOVE_GROUND_M = 0.3


@dataclass(frozen=True)
class IncompleteEchoParams:
    """Share of object returns lost, and the seed of the draw."""

    fraction: float
    seed: int


def apply_incomplete_echo(scan: Scan, params: IncompleteEchoParams) -> Scan:
    """Drop each object return with probability ``fraction`` (labels when present, height otherwise)."""
    if params.fraction == 0:
        return scan
    candidate = scan.labels >= 0 if scan.labels is not None else scan.points[:, 2] > ABOVE_GROUND_M
    u = noise(scan.points, params.seed, (len(scan),), "uniform")
    return scan.take(~(candidate & (u < params.fraction)))


@perturbation("lidar_incomplete_echo", kind="lidar", apply=lidar_kernel(apply_incomplete_echo))
def sample_incomplete_echo(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> IncompleteEchoParams:
    """Incomplete echo on object returns."""
    return IncompleteEchoParams(
        fraction=float(severity_value(sev.INCOMPLETE_ECHO_FRACTION, severity, 0.0)), seed=draw_seed(rng)
    )
