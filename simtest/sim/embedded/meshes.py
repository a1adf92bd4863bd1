"""Triangle meshes built from primitives, with one material id per triangle.

Local frames follow the ego convention (x forward, y left, z up, metres).
Winding is not relied on: shading turns every normal towards the viewer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simtest.types import rotation_z

# unit cube corners and its 12 triangles
_CUBE_V = np.array(
    [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], np.float64
) * 0.5
_CUBE_T = np.array(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6],
     [3, 0, 4], [3, 4, 7]],
    np.int64,
)


@dataclass(frozen=True)
class Mesh:
    """Vertices (V, 3) float32, triangles (T, 3) uint32 and material ids (T,) int32."""

    vertices: np.ndarray
    triangles: np.ndarray
    materials: np.ndarray

    @property
    def num_triangles(self) -> int:
        return int(len(self.triangles))

    def transformed(self, x: float, y: float, z: float, yaw: float) -> Mesh:
        """The mesh rotated by ``yaw`` about z, then moved to (x, y, z)."""
        R = rotation_z(yaw).astype(np.float32)
        v = self.vertices @ R.T + np.array([x, y, z], np.float32)
        return Mesh(v.astype(np.float32, copy=False), self.triangles, self.materials)


EMPTY = Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint32), np.zeros(0, np.int32))


def merge(meshes: list[Mesh]) -> Mesh:
    """One mesh holding all triangles of ``meshes`` (material ids kept)."""
    meshes = [m for m in meshes if m.num_triangles]
    if not meshes:
        return EMPTY
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    return Mesh(
        np.concatenate([m.vertices for m in meshes]).astype(np.float32, copy=False),
        np.concatenate([m.triangles.astype(np.int64) + o for m, o in zip(meshes, offsets)]).astype(np.uint32),
        np.concatenate([m.materials for m in meshes]).astype(np.int32, copy=False),
    )


def _mesh(v: np.ndarray, t: np.ndarray, material: int) -> Mesh:
    return Mesh(v.astype(np.float32), t.astype(np.uint32), np.full(len(t), material, np.int32))


def box(center: tuple[float, float, float], size: tuple[float, float, float], material: int, yaw: float = 0.0,
        top_scale: tuple[float, float] = (1.0, 1.0), top_shift: float = 0.0, bottom: bool = True) -> Mesh:
    """An oriented box (length, width, height) about ``center``; ``top_scale`` shrinks the top
    face in x and y (a cabin or trapezoid) and ``top_shift`` moves it along x. ``bottom=False``
    leaves out the bottom face (of a box standing on the ground, which no ray reaches)."""
    v = _CUBE_V * np.asarray(size, np.float64)
    top = v[:, 2] > 0
    v[top, 0] = v[top, 0] * top_scale[0] + top_shift
    v[top, 1] *= top_scale[1]
    v = v @ rotation_z(yaw).T + np.asarray(center, np.float64)
    return _mesh(v, _CUBE_T if bottom else _CUBE_T[2:], material)


def cylinder(center: tuple[float, float, float], radius: float, length: float, axis: str, material: int,
             segments: int = 10, radius_end: float | None = None, caps: tuple[bool, bool] = (True, True)) -> Mesh:
    """A cylinder (or cone frustum to ``radius_end``) along the local ``axis`` ('x', 'y' or 'z'),
    closed at its low and high ends as ``caps`` says (leave out an end no ray reaches: one standing
    on the ground, or inside another mesh)."""
    r1 = radius if radius_end is None else radius_end
    a = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(a), np.sin(a)], 1)
    lo = np.column_stack([ring * radius, np.full(segments, -length / 2)])
    hi = np.column_stack([ring * r1, np.full(segments, length / 2)])
    v = np.vstack([lo, hi, [[0, 0, -length / 2], [0, 0, length / 2]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    side = np.concatenate([np.stack([i, j, segments + j], 1), np.stack([i, segments + j, segments + i], 1)])
    ends = [np.stack([np.full(segments, 2 * segments), j, i], 1),
            np.stack([np.full(segments, 2 * segments + 1), segments + i, segments + j], 1)]
    perm = {"z": [0, 1, 2], "x": [2, 0, 1], "y": [1, 2, 0]}[axis]
    v = v[:, perm] + np.asarray(center, np.float64)
    return _mesh(v, np.concatenate([side] + [e for e, keep in zip(ends, caps) if keep]), material)


def sphere(center: tuple[float, float, float], radius: float, material: int, rings: int = 5, segments: int = 8,
           scale: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Mesh:
    """A low-polygon UV sphere (ellipsoid with ``scale``)."""
    th = np.linspace(0, np.pi, rings + 1)[1:-1]
    ph = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    T, P = np.meshgrid(th, ph, indexing="ij")
    body = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    v = np.vstack([[[0, 0, 1]], body, [[0, 0, -1]]]) * radius * np.asarray(scale) + np.asarray(center)
    tris = []
    n_in = rings - 1
    for s in range(segments):
        s2 = (s + 1) % segments
        tris.append([0, 1 + s, 1 + s2])
        for r in range(n_in - 1):
            a, b = 1 + r * segments + s, 1 + r * segments + s2
            c, d = a + segments, b + segments
            tris += [[a, c, d], [a, d, b]]
        last = 1 + (n_in - 1) * segments
        tris.append([len(v) - 1, last + s2, last + s])
    return _mesh(v, np.array(tris), material)


def quad(corners: np.ndarray, material: int) -> Mesh:
    """A flat quadrilateral from 4 corners (4, 3) in order."""
    return _mesh(np.asarray(corners, np.float64), np.array([[0, 1, 2], [0, 2, 3]]), material)


def ground_strips(x0: float, x1: float, y0: float, y1: float, z: float, material: int) -> Mesh:
    """A horizontal rectangle [x0, x1] x [y0, y1] at height ``z``."""
    return quad(np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]]), material)
