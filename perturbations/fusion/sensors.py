"""Sensors that deliver nothing (missing camera, missing lidar) and dropped frames
(the previous frame's sensor data delivered again)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from perturbations.fusion import severities as sev
from perturbations.fusion.frames import HISTORY_FRAMES, SLOTS, as_frames, history_length, slot, with_sensors
from perturbations.registry import perturbation, severity_value
from simtest.types import Frame


@dataclass(frozen=True)
class MissingParams:
    """Per sensor slot: True when that sensor delivers nothing this frame."""

    missing: tuple[bool, ...]


def _without(frames: Frame | Sequence[Frame], params: MissingParams, modality: str) -> Frame:
    current = as_frames(frames, f"missing_{modality}")[-1]
    sensors = getattr(current, modality + "s")
    kept = {name: s for i, (name, s) in enumerate(sorted(sensors.items())) if not params.missing[slot(i)]}
    if len(kept) == len(sensors):
        return current
    return with_sensors(current, **{modality + "s": kept})


def apply_missing_camera(frames: Frame | Sequence[Frame], params: MissingParams) -> Frame:
    """Remove the missing cameras from the frame (the detector sees them absent, not black)."""
    return _without(frames, params, "camera")


def apply_missing_lidar(frames: Frame | Sequence[Frame], params: MissingParams) -> Frame:
    """Remove the missing lidars from the frame."""
    return _without(frames, params, "lidar")


def _sample_missing(severity: float, rng: np.random.Generator) -> MissingParams:
    p = float(severity_value(sev.MISSING_SENSOR_PROBABILITY, severity, 0.0))
    return MissingParams(missing=tuple(bool(u < p) for u in rng.random(SLOTS)))


@perturbation("missing_camera", kind="fusion", apply=apply_missing_camera)
def sample_missing_camera(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> MissingParams:
    """Each camera independently missing with the tabulated probability."""
    return _sample_missing(severity, rng)


@perturbation("missing_lidar", kind="fusion", apply=apply_missing_lidar)
def sample_missing_lidar(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> MissingParams:
    """Each lidar independently missing with the tabulated probability."""
    return _sample_missing(severity, rng)


@dataclass(frozen=True)
class DroppedFramesParams:
    """How many frames old the delivered sensor data is: drawn, and as the history allowed."""

    stale: int
    requested_stale: int


def apply_dropped_frames(frames: Frame | Sequence[Frame], params: DroppedFramesParams) -> Frame:
    """Deliver every sensor of the frame ``stale`` frames ago (0 = the current one).

    Truth, ego state, index and timestamp stay current; the sensors keep their old
    timestamps, as a repeated frame does.
    """
    history = as_frames(frames, "dropped_frames")
    k = min(params.stale, len(history) - 1)
    if k == 0:
        return history[-1]
    old = history[-1 - k]
    return with_sensors(history[-1], cameras=old.cameras, lidars=old.lidars)


@perturbation("dropped_frames", kind="fusion", apply=apply_dropped_frames)
def sample_dropped_frames(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> DroppedFramesParams:
    """Frames dropped independently with probability p; the last delivered one is repeated.

    In a stream where each frame is dropped with probability ``p`` the delivered
    data is ``k`` frames old with probability ``(1 - p) p^k``; we draw ``k`` from
    that law (capped at HISTORY_FRAMES), so each frame is sampled on its own.
    """
    p = float(severity_value(sev.DROPPED_FRAME_PROBABILITY, severity, 0.0))
    k = 0
    while k < HISTORY_FRAMES and rng.random() < p:
        k += 1
    return DroppedFramesParams(stale=min(k, history_length(shape) - 1), requested_stale=k)
