"""Severity tables of the fusion-level faults, levels 1..5 (see perturbations/lidar/severities.py
for the conventions: 3D_Corruptions_AD levels as published, Robo3D light/moderate/heavy = 1/3/5,
otherwise chosen here and said so)."""

from __future__ import annotations

MISALIGN_TRANSLATION_M: tuple[float, ...] = (0.04, 0.08, 0.12, 0.16, 0.20)
"""Standard deviation (m) of the extrinsic translation error per axis; 3D_Corruptions_AD
``spatial_alignment_noise`` (0.02..0.10 doubled)."""

MISALIGN_ROTATION_RAD: tuple[float, ...] = (0.004, 0.008, 0.012, 0.016, 0.020)
"""Standard deviation (rad) of the roll, pitch and yaw errors; 3D_Corruptions_AD's scale
(0.002..0.010 doubled). It adds the noise to the 3x3 matrix entries, which leaves SO(3);
we draw proper rotation angles instead."""

TEMPORAL_DELAY_FRAMES: tuple[float, ...] = (2, 4, 6, 8, 10)
"""Frames by which one modality lags; 3D_Corruptions_AD ``temporal_alignment_noise``."""

MISSING_SENSOR_PROBABILITY: tuple[float, ...] = (0.2, 0.4, 0.6, 0.8, 1.0)
"""Probability that each sensor of the modality delivers nothing this frame; chosen here
(level 5 = the sensor is gone, as in MultiCorrupt / nuScenes-C missing-camera tests)."""

DROPPED_FRAME_PROBABILITY: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
"""Probability that a frame is dropped and the previous one repeated; chosen here."""

TIMESTAMP_JITTER_S: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1)
"""Standard deviation (s) of each sensor's timestamp error; chosen here (0.5 to 10 frame
periods' worth of a 100 ms lidar sweep at level 5 = one sweep)."""
