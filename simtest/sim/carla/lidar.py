"""One CARLA lidar sweep -> a simtest :class:`~simtest.types.Lidar`, with weather.

CARLA's lidar ignores the weather. simtest's ray-level weather model
(:func:`perturbations.lidar.weather.ray_weather`, the same code the embedded
simulator runs) is applied with parameters from the same
:class:`~simtest.sim.base.Conditions`: the fog's extinction coefficient from its
optical range, the rain and snowfall rates.

The model needs every ray, including those that hit nothing (fog backscatter
and particles appear on sky rays too). CARLA reports only hits, so the empty
rays are recovered from the scan pattern: each channel fires ``azimuth_steps``
rays per sweep at a fixed azimuth spacing, and the azimuth bins of a channel
that hold no point are its empty rays.

Each returned point is labelled with the actor it hit, transferred from the
aligned ``ray_cast_semantic`` sensor (same pose, same rays, no noise) by nearest
neighbour; weather echoes get label -2 and background -1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from perturbations.lidar.weather import HARD, NO_RETURN, ray_weather
from simtest.sim.base import Conditions, LidarSpec
from simtest.sim.carla.coords import sensor_points_to_simtest
from simtest.sim.carla.decode import lidar_arrays, semantic_lidar_arrays
from simtest.types import Lidar, transform_points

BACKGROUND, WEATHER = -1, -2


def transfer_labels(
    xyz: np.ndarray, semantic_xyz: np.ndarray, semantic_ids: np.ndarray, known_ids: Iterable[int], tolerance: float
) -> np.ndarray:
    """Actor id of each point from its nearest semantic-lidar point within ``tolerance`` metres.

    Points with no semantic neighbour that close, or whose neighbour hit
    something other than a ground-truth actor, get -1.
    """
    labels = np.full(len(xyz), BACKGROUND, dtype=np.int64)
    if len(xyz) == 0 or len(semantic_xyz) == 0:
        return labels
    dist, idx = cKDTree(semantic_xyz).query(xyz, k=1, distance_upper_bound=tolerance)
    found = np.isfinite(dist)
    ids = semantic_ids[idx[found]]
    known = np.isin(ids, np.fromiter(known_ids, dtype=np.int64))
    labels[np.flatnonzero(found)[known]] = ids[known]
    return labels


def empty_rays(xyz: np.ndarray, ring: np.ndarray, spec: LidarSpec) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (M, 3) and rings (M,) of the rays of one sweep that returned nothing.

    ``xyz`` are the sweep's points in the sensor's simtest frame.
    """
    steps = spec.azimuth_steps
    width = 2 * math.pi / steps
    az = np.arctan2(xyz[:, 1], xyz[:, 0]) % (2 * math.pi)
    # The scan's azimuth phase: rays sit at phase + k * width.
    phase = float(np.median(az % width)) if len(az) else 0.0
    bins = np.floor((az - phase) / width + 0.5).astype(np.int64) % steps
    occupied = np.zeros((spec.beams, steps), dtype=bool)
    occupied[ring, bins] = True
    ring_e, bin_e = np.nonzero(~occupied)
    elev = np.radians(spec.elevations())[ring_e]
    a = phase + bin_e * width
    dirs = np.stack([np.cos(elev) * np.cos(a), np.cos(elev) * np.sin(a), np.sin(elev)], axis=1)
    return dirs, ring_e.astype(np.int32)


def weather_sweep(
    xyz: np.ndarray,
    intensity: np.ndarray,
    ring: np.ndarray,
    labels: np.ndarray,
    spec: LidarSpec,
    conditions: Conditions,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Apply :func:`ray_weather` to a sweep (sensor simtest frame); returns xyz, intensity, ring, labels."""
    if conditions.fog_alpha == 0 and conditions.rain_rate == 0 and conditions.snowfall_rate == 0:
        return xyz, intensity, ring, labels
    sky_dirs, sky_ring = empty_rays(xyz, ring, spec)
    r_hit = np.linalg.norm(xyz, axis=1)
    dirs = np.concatenate([xyz / np.maximum(r_hit, 1e-9)[:, None], sky_dirs])
    ranges = np.concatenate([r_hit, np.full(len(sky_dirs), np.inf)])
    res = ray_weather(
        ranges,
        np.concatenate([intensity.astype(np.float64), np.zeros(len(sky_dirs))]),
        fog_alpha=conditions.fog_alpha,
        rain_rate=conditions.rain_rate,
        snowfall_rate=conditions.snowfall_rate,
        rng=rng,
        max_range=spec.range,
    )
    kind = np.asarray(res.kind)
    keep = kind != NO_RETURN
    hard = kind == HARD
    all_xyz = np.concatenate([xyz, np.zeros((len(sky_dirs), 3))])
    out_xyz = np.where(hard[:, None], all_xyz, dirs * np.where(np.isfinite(res.ranges), res.ranges, 0.0)[:, None])
    all_labels = np.concatenate([labels, np.full(len(sky_dirs), BACKGROUND, dtype=np.int64)])
    out_labels = np.where(hard, all_labels, WEATHER)
    all_ring = np.concatenate([ring, sky_ring])
    return out_xyz[keep], np.asarray(res.intensities)[keep], all_ring[keep], out_labels[keep]


def lidar_from_carla(
    measurement: Any,
    semantic: Any,
    spec: LidarSpec,
    conditions: Conditions,
    known_ids: Iterable[int],
    rng: np.random.Generator,
    *,
    timestamp: float,
    label_tolerance: float = 0.02,
) -> Lidar:
    """Decode a ray_cast sweep and its semantic twin into an ego-frame :class:`Lidar` with weather.

    ``timestamp`` (s since the episode start) is the sweep's tick time."""
    xyz_c, intensity, ring = lidar_arrays(measurement)
    sem_xyz_c, sem_ids = semantic_lidar_arrays(semantic)
    labels = transfer_labels(xyz_c, sem_xyz_c, sem_ids, known_ids, label_tolerance)
    xyz = sensor_points_to_simtest(xyz_c.astype(np.float64))
    xyz, intensity, ring, labels = weather_sweep(xyz, intensity, ring, labels, spec, conditions, rng)
    T = spec.mount.T_ego_from_sensor()
    points = np.concatenate([transform_points(T, xyz), np.asarray(intensity, np.float64)[:, None]], axis=1)
    return Lidar(
        points=points.astype(np.float32),
        ring=ring.astype(np.int32),
        T_ego_from_lidar=T,
        num_beams=spec.beams,
        labels=labels.astype(np.int64),
        timestamp=float(timestamp),
    )
