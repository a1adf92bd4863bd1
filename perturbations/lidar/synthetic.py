"""A synthetic, organised lidar scan for tests and benchmarks.

:func:`make_scan` casts the rays of a spinning lidar (``beams`` rings evenly
spaced from +2 to -24.8 deg elevation, ``steps`` azimuths) mounted 1.9 m above a
flat road (ego frame, z = 0 on the road) against a ground plane, a few cars and
pedestrians (yawed boxes) and the walls of a street canyon that is open behind
the sensor. 64 x 2048 rays give ~125k returns. Every point carries its ring and
label (object id >= 0 for cars and pedestrians, -1 for ground and walls);
intensity is the apparent reflectivity (surface reflectivity times the cosine of
the incidence angle).
"""

from __future__ import annotations

import numpy as np

from perturbations.lidar.scan import Scan

SENSOR_HEIGHT = 1.9  # m above the road
MAX_RANGE = 120.0  # m
ELEVATION_DEG = (2.0, -24.8)  # top and bottom beam

# (x_min, x_max, y_min, y_max, z_max, reflectivity) of the street-canyon walls
_WALLS = np.array(
    [
        [-30.0, 90.0, 14.0, 15.0, 9.0, 0.35],
        [-30.0, 90.0, -15.0, -14.0, 9.0, 0.35],
        [89.0, 90.0, -15.0, 15.0, 9.0, 0.35],
    ]
)
_GROUND_REFLECTIVITY = 0.15
_CAR_REFLECTIVITY = 0.6
_PEDESTRIAN_REFLECTIVITY = 0.4


def _scene_boxes(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Object boxes (x, y, z, l, w, h, yaw) and reflectivities: 4 cars and 3 pedestrians."""
    cars = [(12.0, -3.5), (25.0, 3.5), (-12.0, 3.5), (40.0, -7.0)]
    peds = [(8.0, 6.0), (18.0, -8.5), (30.0, 10.0)]
    boxes = []
    for x, y in cars:
        jitter = rng.uniform(-1.0, 1.0, 2)
        boxes.append([x + jitter[0], y + 0.3 * jitter[1], 0.75, 4.5, 1.9, 1.5, rng.uniform(-0.15, 0.15)])
    for x, y in peds:
        jitter = rng.uniform(-0.5, 0.5, 2)
        boxes.append([x + jitter[0], y + jitter[1], 0.9, 0.6, 0.6, 1.8, rng.uniform(-np.pi, np.pi)])
    refl = np.array([_CAR_REFLECTIVITY] * len(cars) + [_PEDESTRIAN_REFLECTIVITY] * len(peds))
    return np.asarray(boxes), refl


def _ray_box(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slab test of rays (origin o, unit directions d, N x 3) with an axis-aligned box: (t_hit, normal)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1 = (lo - o) * inv
        t2 = (hi - o) * inv
    t_near = np.minimum(t1, t2)
    t_far = np.maximum(t1, t2)
    t_in = t_near.max(axis=1)
    t_out = t_far.min(axis=1)
    hit = (t_in <= t_out) & (t_in > 0.0)
    axis = t_near.argmax(axis=1)
    normal = np.zeros_like(d)
    normal[np.arange(len(d)), axis] = -np.sign(d[np.arange(len(d)), axis])
    return np.where(hit, t_in, np.inf), normal


def make_scan(rng: np.random.Generator, beams: int = 64, steps: int = 2048) -> Scan:
    """An organised synthetic scan (see module docstring) with ring and labels; NumPy arrays."""
    if beams < 1 or steps < 8:
        raise ValueError(f"make_scan: beams >= 1 and steps >= 8 required, got beams={beams}, steps={steps}")
    elev = np.radians(np.linspace(ELEVATION_DEG[0], ELEVATION_DEG[1], beams))[::-1]  # ring 0 = lowest
    azim = np.arange(steps) * (2 * np.pi / steps) - np.pi
    el, az = np.meshgrid(elev, azim, indexing="ij")
    d = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1).reshape(-1, 3)
    ring = np.repeat(np.arange(beams, dtype=np.int32), steps)
    origin = np.array([0.0, 0.0, SENSOR_HEIGHT])
    o = np.broadcast_to(origin, d.shape)

    # ground plane z = 0
    with np.errstate(divide="ignore"):
        t_best = np.where(d[:, 2] < 0, -SENSOR_HEIGHT / d[:, 2], np.inf)
    normal = np.tile([0.0, 0.0, 1.0], (len(d), 1))
    refl = np.full(len(d), _GROUND_REFLECTIVITY)
    label = np.full(len(d), -1, np.int32)

    for x0, x1, y0, y1, z1, r in _WALLS:
        t, n = _ray_box(o, d, np.array([x0, y0, 0.0]), np.array([x1, y1, z1]))
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        normal = np.where(closer[:, None], n, normal)
        refl = np.where(closer, r, refl)
        label = np.where(closer, -1, label)

    boxes, box_refl = _scene_boxes(rng)
    for i, (bx, by, bz, bl, bw, bh, yaw) in enumerate(boxes):
        c, s = np.cos(yaw), np.sin(yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])  # box -> ego
        o_local = (origin - [bx, by, bz]) @ rot
        d_local = d @ rot
        half = np.array([bl, bw, bh]) / 2
        t, n_local = _ray_box(np.broadcast_to(o_local, d.shape), d_local, -half, half)
        closer = t < t_best
        t_best = np.where(closer, t, t_best)
        normal = np.where(closer[:, None], n_local @ rot.T, normal)
        refl = np.where(closer, box_refl[i], refl)
        label = np.where(closer, i, label)

    keep = t_best <= MAX_RANGE
    t = t_best[keep] + rng.normal(0.0, 0.01, keep.sum())  # 1 cm range noise
    xyz = origin + d[keep] * t[:, None]
    intensity = refl[keep] * np.abs(np.sum(d[keep] * normal[keep], axis=1))
    points = np.concatenate([xyz, intensity[:, None]], axis=1).astype(np.float32)
    return Scan(points=points, ring=ring[keep], labels=label[keep], origin=tuple(origin.tolist()), num_beams=beams)
