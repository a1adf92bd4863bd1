"""Timestamp jitter: each sensor's timestamp is off by a random error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from perturbations.fusion import severities as sev
from perturbations.fusion.frames import SLOTS, as_frames, slot, with_sensors
from perturbations.registry import perturbation, severity_value
from simtest.types import Frame


@dataclass(frozen=True)
class TimestampJitterParams:
    """Timestamp errors (s) per camera slot and per lidar slot."""

    camera_offsets: tuple[float, ...]
    lidar_offsets: tuple[float, ...]


def apply_timestamp_jitter(frames: Frame | Sequence[Frame], params: TimestampJitterParams) -> Frame:
    """Shift every sensor's timestamp by its slot's error; data and the frame's own timestamp unchanged.

    A model that interpolates or compensates by sensor time (ego-motion
    compensation, track prediction) then uses the wrong instant.
    """
    current = as_frames(frames, "timestamp_jitter")[-1]
    if not any(params.camera_offsets) and not any(params.lidar_offsets):
        return current
    cams = {
        name: replace(c, timestamp=c.timestamp + params.camera_offsets[slot(i)])
        for i, (name, c) in enumerate(sorted(current.cameras.items()))
    }
    lidars = {
        name: replace(lid, timestamp=lid.timestamp + params.lidar_offsets[slot(i)])
        for i, (name, lid) in enumerate(sorted(current.lidars.items()))
    }
    return with_sensors(current, cameras=cams, lidars=lidars)


@perturbation("timestamp_jitter", kind="fusion", apply=apply_timestamp_jitter)
def sample_timestamp_jitter(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> TimestampJitterParams:
    """Gaussian timestamp errors, one per sensor."""
    std = float(severity_value(sev.TIMESTAMP_JITTER_S, severity, 0.0))
    draws = rng.standard_normal(2 * SLOTS) * std
    return TimestampJitterParams(
        camera_offsets=tuple(float(v) for v in draws[:SLOTS]), lidar_offsets=tuple(float(v) for v in draws[SLOTS:])
    )
