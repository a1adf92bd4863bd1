"""Procedural road users: vehicles, articulated pedestrians and cyclists.

Every asset is built in its local frame (x forward, y left, z up, origin on the
ground under the box centre) and comes with its ground-truth box size
(length, width, height) that encloses the mesh in every pose. Walkers swing
their legs and arms with a gait phase; cyclists pedal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simtest.sim.embedded.materials import MATERIAL_ID
from simtest.sim.embedded.meshes import Mesh, box, cylinder, merge, sphere

M = MATERIAL_ID


@dataclass(frozen=True)
class VehicleShape:
    """Dimensions (m) of a procedural vehicle."""

    length: float
    width: float
    height: float
    body_height: float  # height of the lower body's top above ground
    cabin_start: float  # cabin front as a fraction of length from the front
    cabin_end: float  # cabin rear, same
    wheel_radius: float
    wheelbase: float
    cargo: bool = False  # box truck: separate cab and cargo box


VEHICLES: dict[str, VehicleShape] = {
    "sedan": VehicleShape(4.6, 1.8, 1.45, 0.95, 0.3, 0.78, 0.32, 2.7),
    "hatchback": VehicleShape(4.0, 1.75, 1.5, 0.95, 0.32, 0.97, 0.31, 2.5),
    "suv": VehicleShape(4.8, 1.95, 1.75, 1.1, 0.28, 0.95, 0.37, 2.85),
    "van": VehicleShape(5.2, 2.0, 2.3, 1.15, 0.12, 1.0, 0.35, 3.3),
    "truck": VehicleShape(8.5, 2.5, 3.4, 1.3, 0.0, 0.27, 0.5, 5.0, cargo=True),
}

PEDESTRIAN_HEIGHT = {"adult": 1.75, "child": 1.15}
SWING = 0.4  # rad, largest leg swing amplitude (running)


def vehicle(model: str, paint_id: int) -> tuple[Mesh, tuple[float, float, float]]:
    """A car, van or box truck of ``model`` painted with material ``paint_id``; returns (mesh, box size)."""
    s = VEHICLES[model]
    L, W, H = s.length, s.width, s.height
    clearance = 0.25 * s.wheel_radius / 0.32
    parts = [box((0.0, 0.0, (clearance + s.body_height) / 2), (L, W, s.body_height - clearance), paint_id)]
    if s.cargo:
        cab_len = L * s.cabin_end
        cab_x = L / 2 - cab_len / 2
        parts.append(box((cab_x, 0.0, (s.body_height + H * 0.85) / 2), (cab_len, W, H * 0.85 - s.body_height),
                         M["window"], top_scale=(0.85, 0.95), top_shift=-0.1))
        cargo_len = L - cab_len - 0.2
        parts.append(box((-L / 2 + cargo_len / 2, 0.0, (s.body_height + H) / 2), (cargo_len, W, H - s.body_height),
                         M["concrete"]))
    else:
        cab_front = L / 2 - s.cabin_start * L
        cab_rear = L / 2 - s.cabin_end * L
        cab_len = cab_front - cab_rear
        cabin_h = H - s.body_height - 0.06
        if cab_len > 0.6 * L:  # van: a painted box with a window band
            parts.append(box(((cab_front + cab_rear) / 2, 0.0, s.body_height + cabin_h / 2),
                             (cab_len, W * 0.98, cabin_h), paint_id, top_scale=(0.97, 0.97)))
            parts.append(box(((cab_front + cab_rear) / 2 + 0.02, 0.0, s.body_height + cabin_h * 0.62),
                             (cab_len * 0.96, W, cabin_h * 0.4), M["window"]))
        else:
            parts.append(box(((cab_front + cab_rear) / 2, 0.0, s.body_height + cabin_h / 2),
                             (cab_len, W * 0.94, cabin_h), M["window"], top_scale=(0.72, 0.88),
                             top_shift=-0.08 * cab_len))
        parts.append(box(((cab_front + cab_rear) / 2 - 0.08 * cab_len, 0.0, H - 0.03), (cab_len * 0.7, W * 0.82, 0.06),
                         paint_id))
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(cylinder((sx * s.wheelbase / 2, sy * (W / 2 - 0.13), s.wheel_radius), s.wheel_radius, 0.24,
                                  "y", M["tyre"], segments=10))
    lamp_z = s.body_height - 0.18
    for sy in (-1, 1):
        parts.append(box((L / 2 - 0.02, sy * (W / 2 - 0.25), lamp_z), (0.04, 0.3, 0.12), M["head_light"]))
        parts.append(box((-L / 2 + 0.02, sy * (W / 2 - 0.2), lamp_z), (0.04, 0.25, 0.12), M["tail_light"]))
    parts.append(box((-L / 2 + 0.02, 0.0, lamp_z - 0.15), (0.04, 0.5, 0.11), M["plate"]))
    parts.append(box((L / 2 - 0.02, 0.0, lamp_z - 0.2), (0.04, 0.5, 0.11), M["plate"]))
    return merge(parts), (L, W, H)


def _rotate_y(mesh: Mesh, angle: float, pivot: tuple[float, float, float]) -> Mesh:
    """Rotate a mesh about the y axis through ``pivot`` (positive angle swings +z towards +x... forward-up)."""
    c, s = math.cos(angle), math.sin(angle)
    R = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)
    p = np.asarray(pivot, np.float32)
    return Mesh(((mesh.vertices - p) @ R.T + p).astype(np.float32), mesh.triangles, mesh.materials)


def _limb(pivot: tuple[float, float, float], length: float, thick: float, width: float, angle: float,
          material: int, foot: int | None = None) -> Mesh:
    """A limb hanging down from ``pivot``, swung by ``angle`` (rad) about y; optional foot."""
    x, y, z = pivot
    parts = [box((x, y, z - length / 2), (thick, width, length), material)]
    if foot is not None:
        parts.append(box((x + thick * 0.35, y, z - length + 0.04), (thick * 1.7, width * 0.95, 0.08), foot))
    return _rotate_y(merge(parts), -angle, pivot)


def pedestrian(model: str, paint_id: int, phase: float, swing: float) -> tuple[Mesh, tuple[float, float, float]]:
    """A walker of ``model`` ('adult' or 'child'), clothes ``paint_id``; legs and arms at gait
    ``phase`` (rad) with amplitude ``swing`` (rad). Returns (mesh, box size)."""
    H = PEDESTRIAN_HEIGHT[model]
    k = H / 1.75
    hip = 0.87 * k
    shoulder = 1.42 * k
    a = min(swing, SWING) * math.sin(phase)
    trousers = M["trousers"] if model == "adult" else paint_id
    parts = [
        _limb((0.0, 0.1 * k, hip), hip, 0.15 * k, 0.14 * k, a, trousers, M["shoe"]),
        _limb((0.0, -0.1 * k, hip), hip, 0.15 * k, 0.14 * k, -a, trousers, M["shoe"]),
        box((0.0, 0.0, (hip + shoulder) / 2 + 0.02 * k), (0.24 * k, 0.4 * k, shoulder - hip + 0.1 * k), paint_id,
            top_scale=(0.9, 1.08)),
        _limb((0.0, 0.25 * k, shoulder), 0.62 * k, 0.1 * k, 0.1 * k, -0.8 * a, paint_id),
        _limb((0.0, -0.25 * k, shoulder), 0.62 * k, 0.1 * k, 0.1 * k, 0.8 * a, paint_id),
        cylinder((0.0, 0.0, shoulder + 0.05 * k), 0.05 * k, 0.1 * k, "z", M["skin"], segments=6),
        sphere((0.01 * k, 0.0, H - 0.12 * k), 0.12 * k, M["skin"], scale=(1.0, 0.85, 1.0)),
        sphere((-0.02 * k, 0.0, H - 0.08 * k), 0.12 * k, M["hair"], rings=4, scale=(1.0, 0.9, 0.7)),
    ]
    # box: the feet at the widest swing set the length
    reach = hip * math.sin(SWING) + 0.2 * k
    return merge(parts), (2 * reach, 0.62 * k, H)


def cyclist(paint_id: int, phase: float) -> tuple[Mesh, tuple[float, float, float]]:
    """A bicycle with a rider in clothes ``paint_id``, pedals at ``phase`` (rad). Returns (mesh, box size)."""
    r = 0.34
    wb = 1.05
    parts = [
        cylinder((wb / 2, 0.0, r), r, 0.05, "y", M["tyre"], segments=14),
        cylinder((-wb / 2, 0.0, r), r, 0.05, "y", M["tyre"], segments=14),
        box((0.0, 0.0, 0.62), (wb * 0.62, 0.05, 0.05), M["bike_frame"]),
        box((-0.15, 0.0, 0.55), (0.05, 0.05, 0.45), M["bike_frame"], yaw=0.0),
        box((0.05, 0.0, 0.48), (0.75, 0.05, 0.05), M["bike_frame"], top_scale=(1.0, 1.0)),
        box((wb / 2 - 0.08, 0.0, 0.8), (0.05, 0.05, 0.5), M["bike_frame"]),
        box((wb / 2 - 0.1, 0.0, 1.05), (0.05, 0.55, 0.04), M["bike_frame"]),
        box((-0.18, 0.0, 0.86), (0.25, 0.12, 0.06), M["shoe"]),
    ]
    # rider: hips over the saddle, torso leaning forward, arms to the bars
    hip = (-0.18, 0.0, 0.92)
    crank = (0.0, 0.0, 0.33)
    for side, off in ((1, 0.0), (-1, math.pi)):
        ang = phase + off
        foot = (crank[0] + 0.17 * math.cos(ang), side * 0.13, crank[2] + 0.17 * math.sin(ang))
        dx, dz = foot[0] - hip[0], foot[2] - hip[2]
        leg_len = math.hypot(dx, dz)
        leg = _limb((hip[0], side * 0.12, hip[2]), leg_len, 0.14, 0.13, math.atan2(dx, -dz), M["trousers"])
        parts.append(leg)
    torso_len = 0.62
    lean = 0.75  # rad from vertical
    parts.append(_rotate_y(box((hip[0], 0.0, hip[2] + torso_len / 2), (0.24, 0.38, torso_len), paint_id),
                           lean, hip))
    sh = (hip[0] + torso_len * math.sin(lean), 0.0, hip[2] + torso_len * math.cos(lean))
    for side in (1, -1):
        bx, bz = wb / 2 - 0.12 - sh[0], 1.05 - sh[2]
        arm_len = math.hypot(bx, bz)
        parts.append(_limb((sh[0], side * 0.21, sh[2]), arm_len, 0.09, 0.09, math.atan2(bx, -bz), paint_id))
    parts.append(sphere((sh[0] + 0.1, 0.0, sh[2] + 0.2), 0.12, M["skin"]))
    parts.append(sphere((sh[0] + 0.08, 0.0, sh[2] + 0.25), 0.14, M["bike_frame"], rings=4, scale=(1.1, 0.9, 0.7)))
    mesh = merge(parts)
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    # centre the asset on the box (the mesh is nearly symmetric; pad for pedalling)
    return mesh, (float(2 * max(abs(lo[0]), hi[0])) + 0.05, 0.62, float(hi[2]) + 0.05)
