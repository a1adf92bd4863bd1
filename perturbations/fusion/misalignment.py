"""Spatial misalignment (extrinsic calibration error) and temporal misalignment (one
modality lagging by k frames)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from perturbations.fusion import severities as sev
from perturbations.fusion.frames import HISTORY_FRAMES, SLOTS, as_frames, history_length, slot, with_sensors
from perturbations.registry import perturbation, severity_value
from simtest.types import Frame, rotation_rpy

Pose6 = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class MisalignmentParams:
    """Per sensor slot: (roll, pitch, yaw) error in rad about the ego axes and (x, y, z) error in m."""

    errors: tuple[Pose6, ...]


def _error_transform(e: Pose6) -> tuple[np.ndarray, np.ndarray]:
    return rotation_rpy(*e[:3]), np.asarray(e[3:], dtype=np.float64)


def apply_camera_misalignment(frames: Frame | Sequence[Frame], params: MisalignmentParams) -> Frame:
    """The model is handed wrong camera extrinsics.

    Each camera's believed pose is rotated by the error about its own position
    (ego axes) and shifted by the translation error:
    ``R' = R_err R``, ``t' = t + t_err``. Images are unchanged, so lidar points
    projected with the believed extrinsic land off their pixels (a yaw error
    ``d`` moves a point on the optical axis by ``f tan d`` pixels).
    """
    current = as_frames(frames, "spatial_misalignment_camera")[-1]
    if not any(any(e) for e in params.errors):
        return current
    cams = {}
    for i, name in enumerate(sorted(current.cameras)):
        cam = current.cameras[name]
        rot, shift = _error_transform(params.errors[slot(i)])
        T = cam.T_ego_from_cam.copy()
        T[:3, :3] = rot @ T[:3, :3]
        T[:3, 3] = T[:3, 3] + shift
        cams[name] = replace(cam, T_ego_from_cam=T)
    return with_sensors(current, cameras=cams)


def apply_lidar_misalignment(frames: Frame | Sequence[Frame], params: MisalignmentParams) -> Frame:
    """The lidar's points are placed with a wrong mount.

    Points are rotated by the error about the lidar origin and shifted:
    ``p' = R_err (p - o) + o + t_err`` (ego frame); ``T_ego_from_lidar`` (the
    believed mount) is unchanged, so the points disagree with the cameras and the
    ground truth.
    """
    current = as_frames(frames, "spatial_misalignment_lidar")[-1]
    if not any(any(e) for e in params.errors):
        return current
    lidars = {}
    for i, name in enumerate(sorted(current.lidars)):
        lid = current.lidars[name]
        rot, shift = _error_transform(params.errors[slot(i)])
        o = lid.origin
        xyz = (lid.points[:, :3].astype(np.float64) - o) @ rot.T + o + shift
        pts = np.concatenate([xyz.astype(np.float32), lid.points[:, 3:4]], axis=1)
        lidars[name] = replace(lid, points=pts)
    return with_sensors(current, lidars=lidars)


def _sample_errors(severity: float, rng: np.random.Generator) -> MisalignmentParams:
    s_rot = float(severity_value(sev.MISALIGN_ROTATION_RAD, severity, 0.0))
    s_tr = float(severity_value(sev.MISALIGN_TRANSLATION_M, severity, 0.0))
    draws = rng.standard_normal((SLOTS, 6)) * np.array([s_rot] * 3 + [s_tr] * 3)
    return MisalignmentParams(errors=tuple(tuple(float(v) for v in row) for row in draws))


@perturbation("spatial_misalignment_camera", kind="fusion", apply=apply_camera_misalignment)
def sample_camera_misalignment(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> MisalignmentParams:
    """Camera extrinsic error (3D_Corruptions_AD spatial misalignment scale)."""
    return _sample_errors(severity, rng)


@perturbation("spatial_misalignment_lidar", kind="fusion", apply=apply_lidar_misalignment)
def sample_lidar_misalignment(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> MisalignmentParams:
    """Lidar extrinsic error (3D_Corruptions_AD spatial misalignment scale)."""
    return _sample_errors(severity, rng)


@dataclass(frozen=True)
class DelayParams:
    """Frames by which the modality lags: as requested by the severity and as the history allowed."""

    delay: int
    requested_delay: int


def _delayed(frames: Frame | Sequence[Frame], params: DelayParams, modality: str) -> Frame:
    history = as_frames(frames, f"temporal_misalignment_{modality}")
    current = history[-1]
    k = min(params.delay, len(history) - 1)  # also guards a replay on a shorter history
    if k == 0:
        return current
    old = getattr(history[-1 - k], modality + "s")
    now = getattr(current, modality + "s")
    stale = {name: old.get(name, sensor) for name, sensor in now.items()}
    return with_sensors(current, **{modality + "s": stale})


def apply_camera_delay(frames: Frame | Sequence[Frame], params: DelayParams) -> Frame:
    """The cameras deliver the images of ``delay`` frames ago (with their own, old timestamps)."""
    return _delayed(frames, params, "camera")


def apply_lidar_delay(frames: Frame | Sequence[Frame], params: DelayParams) -> Frame:
    """The lidars deliver the sweeps of ``delay`` frames ago (points in that frame's ego pose)."""
    return _delayed(frames, params, "lidar")


def _sample_delay(severity: float, shape: tuple[int, ...]) -> DelayParams:
    requested = int(round(severity_value(sev.TEMPORAL_DELAY_FRAMES, severity, 0.0)))
    return DelayParams(delay=min(requested, history_length(shape) - 1, HISTORY_FRAMES), requested_delay=requested)


@perturbation("temporal_misalignment_camera", kind="fusion", apply=apply_camera_delay)
def sample_camera_delay(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> DelayParams:
    """Cameras lag the lidar by k frames (3D_Corruptions_AD temporal misalignment); deterministic."""
    return _sample_delay(severity, shape)


@perturbation("temporal_misalignment_lidar", kind="fusion", apply=apply_lidar_delay)
def sample_lidar_delay(severity: float, shape: tuple[int, ...], rng: np.random.Generator) -> DelayParams:
    """The lidar lags the cameras by k frames (3D_Corruptions_AD temporal misalignment); deterministic."""
    return _sample_delay(severity, shape)
