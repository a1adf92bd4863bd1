"""Fusion-level faults: ``Frame -> Frame`` corruptions across sensors and time.

Contract
--------
``apply(frames: Sequence[Frame], params) -> Frame``. ``frames[-1]`` is the current
frame; earlier entries are the history, oldest first, as the runner keeps them.
A single :class:`~simtest.types.Frame` is accepted as a history of one.
``sample(severity, shape, rng)`` is given ``shape == (len(frames),)`` (what
:func:`perturbations.perturb` passes for a list or tuple of frames), so the
sampler knows how much history exists.

History: the runner should keep the last :data:`HISTORY_FRAMES` frames before
the current one (11 frames in all). With less history, the temporal faults
degrade gracefully: they use the oldest frame available and record both the
requested and the effective delay in their Params (``delay`` vs
``requested_delay``); with no history at all they are the identity and say so
(``delay == 0``).

The output frame always keeps the current frame's index, timestamp, ego state,
ground-truth objects and meta: faults corrupt what the sensors deliver (or what
the model believes about them), never the truth the model is scored against.

Sensors are addressed in sorted name order: cameras ``sorted(frame.cameras)``
use slots 0, 1, ... of a Params tuple, likewise lidars; a rig with more sensors
than :data:`SLOTS` reuses slots cyclically.

Registered names: ``spatial_misalignment_camera``, ``spatial_misalignment_lidar``,
``temporal_misalignment_camera``, ``temporal_misalignment_lidar``,
``missing_camera``, ``missing_lidar``, ``dropped_frames``, ``timestamp_jitter``.
"""

from perturbations.fusion.frames import HISTORY_FRAMES, SLOTS
from perturbations.fusion import misalignment, sensors, timing  # registers the families

__all__ = ["HISTORY_FRAMES", "SLOTS", "misalignment", "sensors", "timing"]
