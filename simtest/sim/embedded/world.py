"""The static world of a scenario: roads, markings, kerbs, pavements, buildings, trees, poles.

Built once per episode from the scenario's :class:`~simtest.scenario.WorldSpec`
in the world frame (road centre line y = 0, ground z = 0). The episode seed
varies building sizes and colours and tree placement; the road layout comes
from the scenario alone. Street lamps are returned as light sources for night
scenes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simtest.scenario import WorldSpec
from simtest.sim.embedded.materials import MATERIAL_ID, Material
from simtest.sim.embedded.meshes import Mesh, box, cylinder, ground_strips, merge, quad, sphere

M = MATERIAL_ID
KERB_WIDTH = 0.2  # m
KERB_HEIGHT = 0.12  # m, pavement surface height
MARK_Z = 0.004  # m, paint above asphalt (no z-fighting)
LAMP_HEIGHT = 8.0  # m
LAMP_SPACING = 30.0  # m along each side
LAMP_CD = 20.0 * LAMP_HEIGHT**2  # cd straight down: ~20 lux on the road under a lamp
TREE_SPACING = 17.0  # m
TREE_INSET = 0.7  # m, street trees' distance in from the pavement's outer edge
TRUNK_RADIUS = 0.15  # m
GROUND_EXTENT = 400.0  # m, ground plane half size around the road
BUILDING_PALETTE = ((0.62, 0.55, 0.47), (0.5, 0.35, 0.3), (0.7, 0.68, 0.62), (0.42, 0.42, 0.45), (0.55, 0.5, 0.38))


@dataclass(frozen=True)
class StaticWorld:
    """The merged static mesh, extra materials it uses (ids after the fixed table) and lamp heads (N, 3)."""

    mesh: Mesh
    materials: tuple[Material, ...]
    lamps: np.ndarray


def _dashes(x0: float, x1: float, y: float, width: float, on: float, off: float, skip: list[tuple[float, float]]) -> list[Mesh]:
    out = []
    x = x0
    while x < x1:
        xe = min(x + on, x1)
        if not any(a < xe and x < b for a, b in skip):
            out.append(ground_strips(x, xe, y - width / 2, y + width / 2, MARK_Z, M["lane_paint"]))
        x += on + off
    return out


def _spans(x0: float, x1: float, holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[x0, x1] minus the holes."""
    out, x = [], x0
    for a, b in sorted(holes):
        if a > x:
            out.append((x, min(a, x1)))
        x = max(x, b)
    if x < x1:
        out.append((x, x1))
    return [(a, b) for a, b in out if b - a > 0.1]


def _zebra(x: float, half_width: float, along_x: bool) -> list[Mesh]:
    """Zebra stripes of a crossing centred at ``x`` across a road of ``half_width``."""
    out = []
    for y in np.arange(-half_width + 0.5, half_width - 0.2, 1.0):
        if along_x:
            out.append(ground_strips(x - 1.5, x + 1.5, y, y + 0.5, MARK_Z, M["lane_paint"]))
        else:
            out.append(ground_strips(y, y + 0.5, x - 1.5, x + 1.5, MARK_Z, M["lane_paint"]))
    return out


def _road_x(spec: WorldSpec, x0: float, x1: float, y_centre: float, holes: list[tuple[float, float]]) -> list[Mesh]:
    """A road segment along x (asphalt, markings, kerbs, pavements) between x0 and x1 at lateral ``y_centre``."""
    hw = spec.road_half_width
    sw = spec.sidewalk_width
    parts = [ground_strips(x0, x1, y_centre - hw, y_centre + hw, 0.0, M["asphalt"])]
    parts += _dashes(x0, x1, y_centre, 0.15, 3.0, 6.0, holes)
    for k in range(1, spec.lanes):
        for side in (-1, 1):
            parts += _dashes(x0, x1, y_centre + side * k * spec.lane_width, 0.12, 3.0, 9.0, holes)
    for a, b in _spans(x0, x1, holes):
        for side in (-1, 1):
            parts.append(ground_strips(a, b, y_centre + side * (hw - 0.3) - 0.075, y_centre + side * (hw - 0.3) + 0.075,
                                       MARK_Z, M["lane_paint"]))
            yk = y_centre + side * (hw + KERB_WIDTH / 2)
            parts.append(box(((a + b) / 2, yk, KERB_HEIGHT / 2), (b - a, KERB_WIDTH, KERB_HEIGHT), M["curb"],
                             bottom=False))
            y_in, y_out = hw + KERB_WIDTH, hw + KERB_WIDTH + sw
            lo, hi = sorted((y_centre + side * y_in, y_centre + side * y_out))
            parts.append(ground_strips(a, b, lo, hi, KERB_HEIGHT, M["sidewalk"]))
    return parts


def _swap_xy(mesh: Mesh, about_x: float) -> Mesh:
    """Turn a mesh built along x into one along y, crossing the main road at ``about_x``."""
    v = mesh.vertices.copy()
    v[:, [0, 1]] = v[:, [1, 0]]
    v[:, 0] += about_x
    return Mesh(v, mesh.triangles[:, [0, 2, 1]], mesh.materials)


def _clear(x: float, y: float, keep_clear: np.ndarray, radius: float) -> bool:
    return not len(keep_clear) or bool(np.min(np.hypot(keep_clear[:, 0] - x, keep_clear[:, 1] - y)) > radius)


def build_world(spec: WorldSpec, rng: np.random.Generator, keep_clear: np.ndarray, first_material: int) -> StaticWorld:
    """Build the static world. ``keep_clear`` (K, 2) are actor path points that scenery must not
    cover (trees and poles keep 2.5 m away); ``first_material`` is the id of the first extra material."""
    hw = spec.road_half_width
    sw = spec.sidewalk_width
    x0, x1 = spec.start_x, spec.start_x + spec.length
    inter = spec.layout == "intersection"
    ix = spec.intersection_x
    holes = [(ix - hw - KERB_WIDTH - sw, ix + hw + KERB_WIDTH + sw)] if inter else []
    cross_holes = [(c - 1.6, c + 1.6) for c in spec.crosswalks]
    parts: list[Mesh] = [ground_strips(x0 - GROUND_EXTENT, x1 + GROUND_EXTENT, -GROUND_EXTENT, GROUND_EXTENT, -0.02,
                                       M["grass"])]
    parts += _road_x(spec, x0, x1, 0.0, holes + cross_holes)
    for c in spec.crosswalks:
        parts += _zebra(c, hw, True)
    if inter:
        y_far = 120.0
        centre = (-hw - KERB_WIDTH - sw, hw + KERB_WIDTH + sw)
        arm = _road_x(spec, -y_far, y_far, 0.0, [centre])
        parts += [_swap_xy(m, ix) for m in arm]
        for xz in (ix - hw - 2.0, ix + hw + 2.0):
            parts += _zebra(xz, hw, True)
        for yz in (-hw - 2.0, hw + 2.0):
            parts += [_swap_xy(m, ix) for m in _zebra(yz, hw, True)]
    extra: list[Material] = []
    lamps: list[tuple[float, float, float]] = []
    building_ids = []
    for i, c in enumerate(BUILDING_PALETTE):
        extra.append(Material(f"facade_{i}", c, 0.3 + 0.2 * float(np.mean(c))))
        building_ids.append(first_material + i)

    def blocked(x: float, margin: float) -> bool:
        return inter and abs(x - ix) < hw + KERB_WIDTH + sw + margin

    edge = hw + KERB_WIDTH + sw
    if spec.buildings:
        for side in (-1, 1):
            x = x0 + rng.uniform(0, 8)
            while x < x1:
                length = rng.uniform(10.0, 26.0)
                depth = rng.uniform(10.0, 16.0)
                height = rng.uniform(6.0, 20.0)
                setback = rng.uniform(1.5, 5.0)
                cx = x + length / 2
                if not (blocked(x, 2.0) or blocked(x + length, 2.0) or blocked(cx, 2.0)):
                    cy = side * (edge + setback + depth / 2)
                    mat = building_ids[int(rng.integers(len(building_ids)))]
                    parts.append(box((cx, cy, height / 2), (length, depth, height), mat, bottom=False))
                    face = side * (edge + setback) - side * 0.02  # window bands: quads just off the facade
                    x0w, x1w = cx - length * 0.425, cx + length * 0.425
                    for z in np.arange(2.5, height - 1.0, 3.2):
                        parts.append(quad(np.array([[x0w, face, z - 0.65], [x1w, face, z - 0.65],
                                                    [x1w, face, z + 0.65], [x0w, face, z + 0.65]]),
                                          M["building_glass"]))
                x += length + rng.uniform(2.0, 8.0)
    if spec.trees:
        for side in (-1, 1):
            for x in np.arange(x0 + 5.0, x1, TREE_SPACING):
                tx = float(x + rng.uniform(-3.0, 3.0))
                ty = side * (edge - TREE_INSET)
                if blocked(tx, 1.0) or not _clear(tx, ty, keep_clear, 3.0):
                    continue
                h = rng.uniform(3.0, 4.5)
                # the top is inside the crown; the foot under the pavement's surface when the trunk is on it
                parts.append(cylinder((tx, ty, h / 2), TRUNK_RADIUS, h, "z", M["bark"], segments=6,
                                      caps=(sw < TREE_INSET + TRUNK_RADIUS, False)))
                r = rng.uniform(1.4, 2.2)
                parts.append(sphere((tx, ty, h + r * 0.6), r, M["foliage"], rings=5, segments=8,
                                    scale=(1.0, 1.0, 0.85)))
    if spec.street_lights:
        for side, shift in ((-1, 0.0), (1, LAMP_SPACING / 2)):
            for x in np.arange(x0 + 10.0 + shift, x1, LAMP_SPACING):
                px, py = float(x), side * (hw + KERB_WIDTH + 0.4)
                if blocked(px, 0.5) or not _clear(px, py, keep_clear, 2.5):
                    continue
                # the foot under the pavement's surface
                parts.append(cylinder((px, py, LAMP_HEIGHT / 2), 0.09, LAMP_HEIGHT, "z", M["metal_pole"], segments=6,
                                      caps=(False, True)))
                head = (px, py - side * 1.5, LAMP_HEIGHT - 0.1)
                parts.append(box((px, py - side * 0.75, LAMP_HEIGHT), (0.1, 1.5, 0.1), M["metal_pole"]))
                parts.append(box(head, (0.6, 0.3, 0.12), M["lamp"]))
                lamps.append((head[0], head[1], head[2] - 0.1))
    for p in spec.props:
        mid = first_material + len(extra)
        extra.append(Material(f"prop_{len(extra)}", p.color, 0.2 + 0.5 * float(np.mean(p.color))))
        size = p.size
        if p.kind == "tree":
            parts.append(cylinder((p.position[0], p.position[1], size[2] * 0.35), TRUNK_RADIUS, size[2] * 0.7, "z",
                                  M["bark"], caps=(False, True)))
            parts.append(sphere((p.position[0], p.position[1], size[2] * 0.75), size[0] / 2, M["foliage"]))
        elif p.kind == "pole":
            parts.append(cylinder((p.position[0], p.position[1], size[2] / 2), min(size[0], size[1]) / 2, size[2], "z",
                                  M["metal_pole"], caps=(False, True)))
        else:  # building, wall, bus stop: a box
            parts.append(box((p.position[0], p.position[1], size[2] / 2), size, mid, yaw=p.yaw, bottom=False))
    return StaticWorld(merge(parts), tuple(extra), np.array(lamps, np.float32).reshape(-1, 3))
